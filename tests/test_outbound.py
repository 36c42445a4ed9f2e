"""The outbound channels: the pdn:events stream, the signed webhook, admin_unreachable."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.receiver import Receiver
from worker.errors import ConfigurationError
from worker.notices import keys
from worker.notices.outbound import Outbound, signature, verify
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.runtime.outbound import deliver_due
from worker.settings import Settings, from_env

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def pipeline_for(real_redis: Any, settings: Settings, receiver: Receiver | None = None) -> Pipeline:
    if receiver is not None:
        settings = settings.with_(outbound_webhook_url=receiver.url, outbound_webhook_secret=SECRET)
    return Pipeline(settings, real_redis)


def stream(real_redis: Any) -> list[dict[str, str]]:
    return [fields for _, fields in real_redis.xrange(keys.EVENTS)]


def test_outbound_stream_gets_every_status_change(real_redis: Any, settings: Settings) -> None:
    p = pipeline_for(real_redis, settings)
    intake = p.accept(make_event(event_id="s-1", subscription_id="sub-9"))
    nid = intake.notice_id or ""
    p.tracker.transition(nid, Status.SENT, "accepted by the relay")
    entries = stream(real_redis)
    assert [e["status"] for e in entries] == ["queued", "sent"]
    assert all(e["notice_id"] == nid and e["event_id"] == "s-1" for e in entries)
    assert entries[0]["subscription_id"] == "sub-9" and entries[0]["at"].endswith("Z")
    # No webhook configured: nothing waits for delivery.
    assert real_redis.zcard(keys.OUTBOX) == 0


def test_outbound_webhook_posts_wanted_changes_signed(
    real_redis: Any, settings: Settings, receiver: Receiver
) -> None:
    p = pipeline_for(real_redis, settings, receiver)
    nid = p.accept(make_event(event_id="w-1")).notice_id or ""
    p.tracker.transition(nid, Status.SENT, "accepted")
    p.tracker.transition(nid, Status.DELIVERED, "success DSN")
    # queued and sent are not in OUTBOUND_STATUSES by default: only delivered goes out.
    assert deliver_due(p.outbound, p.tracker, p.settings) == 1
    [(headers, body)] = receiver.posts
    assert json.loads(body)["status"] == "delivered" and json.loads(body)["notice_id"] == nid
    assert verify(SECRET, body, headers["x-notices-signature"])
    assert not verify("another secret", body, headers["x-notices-signature"])
    assert real_redis.zcard(keys.OUTBOX) == 0
    assert any("outbound webhook took" in h["detail"] for h in p.tracker.history(nid))


def test_outbound_webhook_retried_until_taken_never_dropped(
    real_redis: Any, settings: Settings, receiver: Receiver
) -> None:
    p = pipeline_for(real_redis, settings, receiver)
    nid = p.accept(make_event(event_id="w-2")).notice_id or ""
    p.tracker.transition(nid, Status.FAILED, "gave up")
    receiver.code = 503
    assert deliver_due(p.outbound, p.tracker, p.settings) == 0
    [delivery_id] = real_redis.zrange(keys.OUTBOX, 0, -1)
    assert float(real_redis.zscore(keys.OUTBOX, delivery_id)) > time.time()  # later, kept
    assert real_redis.hget(keys.outbox_item(delivery_id), "attempts") == "1"
    # Due again (as the schedule would make it): this time the receiver takes it.
    real_redis.zadd(keys.OUTBOX, {delivery_id: 0})
    receiver.code = 204
    assert deliver_due(p.outbound, p.tracker, p.settings) == 1
    assert len(receiver.posts) == 2 and receiver.posts[0][1] == receiver.posts[1][1]
    assert real_redis.zcard(keys.OUTBOX) == 0


def test_outbound_webhook_never_follows_a_redirect(
    real_redis: Any, settings: Settings, receiver: Receiver
) -> None:
    p = pipeline_for(real_redis, settings, receiver)
    nid = p.accept(make_event(event_id="w-3")).notice_id or ""
    p.tracker.transition(nid, Status.FAILED, "gave up")
    receiver.code = 302
    assert deliver_due(p.outbound, p.tracker, p.settings) == 0
    assert real_redis.zcard(keys.OUTBOX) == 1  # kept for a retry, not sent elsewhere


def test_outbound_admin_unreachable_once_per_episode(real_redis: Any, settings: Settings) -> None:
    p = pipeline_for(real_redis, settings)
    address = "dead@example.com"
    first = p.accept(make_event(event_id="u-1", admin_email=address)).notice_id or ""
    second = p.accept(make_event(event_id="u-2", admin_email=address)).notice_id or ""
    for nid in (first, second):
        p.tracker.transition(nid, Status.BOUNCED, "hard bounce", reason="userunknown")
    events = [e for e in stream(real_redis) if e.get("event") == "admin_unreachable"]
    assert len(events) == 1 and events[0]["notice_id"] == first
    assert events[0]["reason"] == "userunknown"
    # Off the suppression list (where the bounce put it): the next failure is news again.
    p.suppressions.add(address, notice_id=first, reason="userunknown", status=None, kind="hard")
    assert p.suppressions.remove(address)
    third = p.accept(make_event(event_id="u-3", admin_email=address)).notice_id or ""
    p.tracker.transition(third, Status.BOUNCED, "hard bounce", reason="userunknown")
    events = [e for e in stream(real_redis) if e.get("event") == "admin_unreachable"]
    assert [e["notice_id"] for e in events] == [first, third]


def test_outbound_delivered_notice_ends_the_episode(real_redis: Any, settings: Settings) -> None:
    p = pipeline_for(real_redis, settings)
    address = "flaky@example.com"
    a = p.accept(make_event(event_id="d-1", admin_email=address)).notice_id or ""
    p.tracker.transition(a, Status.BOUNCED, "hard bounce")
    b = p.accept(make_event(event_id="d-2", admin_email=address)).notice_id or ""
    p.tracker.transition(b, Status.SENT, "accepted")
    p.tracker.transition(b, Status.DELIVERED, "success DSN")
    c = p.accept(make_event(event_id="d-3", admin_email=address)).notice_id or ""
    p.tracker.transition(c, Status.BOUNCED, "hard bounce")
    events = [e for e in stream(real_redis) if e.get("event") == "admin_unreachable"]
    assert [e["notice_id"] for e in events] == [a, c]


def test_outbound_unreachable_event_goes_to_the_webhook_too(
    real_redis: Any, settings: Settings, receiver: Receiver
) -> None:
    p = pipeline_for(real_redis, settings, receiver)
    nid = p.accept(make_event(event_id="x-1", admin_email="gone@example.com")).notice_id or ""
    p.tracker.transition(nid, Status.BOUNCED, "hard bounce", reason="userunknown")
    assert deliver_due(p.outbound, p.tracker, p.settings) == 2
    kinds = sorted(json.loads(body).get("event", "status") for _, body in receiver.posts)
    assert kinds == ["admin_unreachable", "status"]


def test_outbound_stream_is_trimmed(real_redis: Any, settings: Settings) -> None:
    outbound = Outbound(real_redis, settings.with_(events_stream_maxlen=10))
    p = pipeline_for(real_redis, settings)
    nid = p.accept(make_event(event_id="t-1")).notice_id or ""
    for _ in range(300):
        outbound.changed(nid, Status.DEFERRED)
    # Trimmed about to the bound (Redis trims whole nodes with "~"), never unbounded.
    assert real_redis.xlen(keys.EVENTS) < 300


def test_outbound_signature_is_hmac_of_time_and_body() -> None:
    header = signature(SECRET, '{"a":1}', now=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, '{"a":1}', header, now=1_700_000_100)
    assert not verify(SECRET, '{"a":2}', header, now=1_700_000_100)
    assert not verify(SECRET, '{"a":1}', header, now=1_700_001_000)  # stale


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"OUTBOUND_WEBHOOK_URL": "https://billing.example.com/h"}, "OUTBOUND_WEBHOOK_SECRET"),
        (
            {
                "OUTBOUND_WEBHOOK_URL": "http://billing.example.com/h",
                "OUTBOUND_WEBHOOK_SECRET": "s",
            },
            "https",
        ),
    ],
)
def test_outbound_settings_refused_at_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        from_env({"SECRET_KEY": "k" * 32, **env})
