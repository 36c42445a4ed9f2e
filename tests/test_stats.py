"""The per-hour counters: send-latency buckets, percentiles and outcomes by recipient domain."""

from __future__ import annotations

import math
import time

import fakeredis
import pytest
import redis

from tests.support.events import make_event
from worker.notices import keys
from worker.notices.pipeline import Pipeline
from worker.notices.record import iso
from worker.notices.stats import (
    LATENCY_BOUNDS,
    OTHER_DOMAIN,
    HourlyStats,
    bound_label,
    domain_outcomes,
    latency_bucket,
    latency_histogram,
    percentile,
    relay_domain,
)
from worker.notices.status import Status
from worker.settings import Settings

HOUR = 500_000  # an arbitrary UTC hour, as epoch seconds // 3600
NOW = HOUR * 3600 + 30.0


def test_latency_bucket_takes_the_smallest_bound_that_holds_it() -> None:
    assert latency_bucket(0.2) == "1"
    assert latency_bucket(1.0) == "1"
    assert latency_bucket(1.01) == "5"
    assert latency_bucket(899.0) == "900"
    assert latency_bucket(86400.0) == "86400"
    assert latency_bucket(86401.0) == "inf"
    assert latency_bucket(-3.0) == "1"  # clock skew between workers counts as no wait


def test_bound_label_names_units() -> None:
    assert [bound_label(b) for b in LATENCY_BOUNDS] == [
        "≤ 1 s",
        "≤ 5 s",
        "≤ 15 s",
        "≤ 1 min",
        "≤ 5 min",
        "≤ 15 min",
        "≤ 1 h",
        "≤ 4 h",
        "≤ 1 d",
        "> 1 d",
    ]


def test_percentile_is_the_bound_of_the_bucket_holding_the_rank() -> None:
    # 100 notices: 50 within 1 s, 40 within 15 s, 9 within 5 min, 1 over a day.
    histogram = list(zip(LATENCY_BOUNDS, [50, 0, 40, 0, 9, 0, 0, 0, 0, 1], strict=True))
    assert percentile(histogram, 0.5) == 1
    assert percentile(histogram, 0.51) == 15
    assert percentile(histogram, 0.9) == 15
    assert percentile(histogram, 0.99) == 300
    assert percentile(histogram, 1.0) == math.inf
    assert percentile([(b, 0) for b in LATENCY_BOUNDS], 0.5) is None
    assert percentile([(60, 1)], 0.99) == 60  # one notice: every percentile is its bucket


def test_relay_domain_keeps_the_domain_lowercased_never_the_local_part() -> None:
    assert relay_domain("Alice.Smith@Mail.Example.COM") == "mail.example.com"
    assert relay_domain("x@xn--fsq.example.") == "xn--fsq.example"
    assert relay_domain("no-at-sign") == OTHER_DOMAIN
    assert relay_domain("a@bad:domain") == OTHER_DOMAIN
    assert relay_domain("a@exa..mple.com") == OTHER_DOMAIN
    assert relay_domain("") is None and relay_domain(None) is None


def test_hourly_stats_count_latency_and_domain_in_the_hour_hash(
    fake_redis: fakeredis.FakeRedis,
) -> None:
    stats = HourlyStats(fake_redis, retention_days=2)
    stats.count("sent", now=NOW, queued_at=NOW - 42, to="Bob@Example.org")
    stats.count("delivered", now=NOW, queued_at=NOW - 4000, to="bob@example.org")
    stats.count("deferred", now=NOW, queued_at=NOW - 42, to="carol@example.net")
    stats.count("queued", now=NOW, to="dave@example.net")  # not an outcome: no domain
    row = fake_redis.hgetall(keys.stats_hour(HOUR))
    assert row == {
        "status:sent": "1",
        "status:delivered": "1",
        "status:deferred": "1",
        "status:queued": "1",
        "latency:sent:60": "1",
        "latency:delivered:14400": "1",
        "domains": "2",
        "domain:example.org": "2",
        "domain:example.org:sent": "1",
        "domain:example.org:delivered": "1",
        "domain:example.net": "1",
        "domain:example.net:deferred": "1",
    }
    assert not any("bob" in f.lower() or "@" in f for f in row)
    assert 0 < fake_redis.ttl(keys.stats_hour(HOUR)) <= 2 * 86400


def test_hourly_stats_domains_beyond_the_cap_count_as_other(
    fake_redis: fakeredis.FakeRedis,
) -> None:
    stats = HourlyStats(fake_redis, domain_cap=2)
    for domain in ("a.example", "b.example", "c.example", "d.example", "a.example"):
        stats.count("sent", now=NOW, to=f"x@{domain}")
    row = fake_redis.hgetall(keys.stats_hour(HOUR))
    assert row["domains"] == "2"
    assert row["domain:a.example:sent"] == "2" and row["domain:b.example:sent"] == "1"
    assert row[f"domain:{OTHER_DOMAIN}:sent"] == "2"
    assert "domain:c.example:sent" not in row and "domain:d.example" not in row
    # Next hour, a new cap.
    stats.count("sent", now=NOW + 3600, to="x@c.example")
    assert fake_redis.hget(keys.stats_hour(HOUR + 1), "domain:c.example:sent") == "1"


def test_hourly_stats_count_is_best_effort_when_redis_is_away() -> None:
    away = redis.Redis(port=1, socket_connect_timeout=0.2, decode_responses=True)
    HourlyStats(away).count("sent", now=NOW, queued_at=NOW - 1, to="a@example.com")


def test_latency_histogram_and_domain_outcomes_sum_over_hours() -> None:
    hours = [
        (1, {"latency:sent:1": 2, "domain:b.example:sent": 1, "domain:b.example": 1}),
        (
            2,
            {
                "latency:sent:1": 1,
                "latency:sent:inf": 1,
                "latency:delivered:60": 3,
                "domain:a.example:sent": 2,
                "domain:a.example:bounced": 1,
                "domain:b.example:failed": 1,
                f"domain:{OTHER_DOMAIN}:sent": 4,
                "domain:c.example:deferred": 1,
            },
        ),
    ]
    assert latency_histogram(hours, "sent")[0] == (1, 3)
    assert latency_histogram(hours, "sent")[-1] == (math.inf, 1)
    assert sum(n for _, n in latency_histogram(hours, "delivered")) == 3
    outcomes = domain_outcomes(hours, top=2)
    assert [d for d, _ in outcomes] == ["a.example", "b.example", OTHER_DOMAIN]
    assert outcomes[0][1] == {"sent": 2, "deferred": 0, "bounced": 1, "delivered": 0, "failed": 0}
    assert outcomes[1][1]["sent"] == 1 and outcomes[1][1]["failed"] == 1
    assert outcomes[2][1]["sent"] == 4 and outcomes[2][1]["deferred"] == 1  # c.example folded


def _hour_row(client: redis.Redis) -> dict[str, str]:
    row = client.hgetall(keys.stats_hour(int(time.time() // 3600)))
    return {str(k): str(v) for k, v in row.items()}


def test_tracker_counts_sent_and_delivered_from_the_queued_time_in_real_redis(
    settings: Settings, real_redis: redis.Redis
) -> None:
    pipeline = Pipeline(settings, real_redis)
    notice = pipeline.accept(make_event(admin_email="Ops.Admin@Example.COM")).notice_id or ""
    # Queued 20 minutes ago (as if it waited for retries): sent ≤ 1 h, delivered too.
    real_redis.hset(keys.notice(notice), "created_at", iso(time.time() - 1200))
    pipeline.tracker.transition(notice, Status.SENT, "250")
    pipeline.tracker.transition(notice, Status.DELIVERED, "DSN 2.0.0")
    row = _hour_row(real_redis)
    assert row["latency:sent:3600"] == "1" and row["latency:delivered:3600"] == "1"
    assert row["domain:example.com:sent"] == "1" and row["domain:example.com:delivered"] == "1"
    assert not any("ops.admin" in f.lower() for f in row)


def test_tracker_counts_a_scheduled_step_from_when_its_time_came(
    settings: Settings, real_redis: redis.Redis
) -> None:
    pipeline = Pipeline(settings, real_redis)
    tracker = pipeline.tracker
    tracker.create(
        "step-1",
        Status.SCHEDULED,
        {"to": "a@example.org", "step": "reminder"},
        "reminder 1 due",
        schedule_at=time.time() - 1,
    )
    # Recorded two days before it was due: that wait is not send latency.
    real_redis.hset(keys.notice("step-1"), "created_at", iso(time.time() - 2 * 86400))
    claim = tracker.claim("step-1", 60)
    assert claim.record is not None and claim.record.get("queued_at")
    tracker.transition("step-1", Status.SENT, "250", lease=claim.lease_until)
    assert _hour_row(real_redis)["latency:sent:1"] == "1"


def test_tracker_counts_a_replay_from_when_it_was_queued_again(
    settings: Settings, real_redis: redis.Redis
) -> None:
    pipeline = Pipeline(settings, real_redis)
    notice = pipeline.accept(make_event()).notice_id or ""
    real_redis.hset(keys.notice(notice), "created_at", iso(time.time() - 3 * 86400))
    pipeline.tracker.transition(notice, Status.FAILED, "550 5.7.1")
    pipeline.tracker.transition(notice, Status.QUEUED, "replayed")
    assert real_redis.hget(keys.notice(notice), "queued_at")
    pipeline.tracker.transition(notice, Status.SENT, "250")
    row = _hour_row(real_redis)
    assert row["latency:sent:1"] == "1" and "latency:sent:inf" not in row
    assert row["domain:example.com:failed"] == "1"


@pytest.mark.parametrize("status", ["bounced", "failed", "deferred"])
def test_hourly_stats_no_latency_for_other_outcomes(
    fake_redis: fakeredis.FakeRedis, status: str
) -> None:
    HourlyStats(fake_redis).count(status, now=NOW, queued_at=NOW - 10, to="a@b.example")
    row = {str(k): str(v) for k, v in fake_redis.hgetall(keys.stats_hour(HOUR)).items()}
    assert not any(f.startswith("latency:") for f in row)
    assert row[f"domain:b.example:{status}"] == "1"
