"""Notice records, states and transitions."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from worker.notices import keys
from worker.notices.record import notice_id_for
from worker.notices.status import SETTLED, TRANSITIONS, Status
from worker.notices.store import Tracker


@pytest.fixture
def tracker(fake_redis: Any) -> Tracker:
    return Tracker(fake_redis)


def _at(tracker: Tracker, status: Status) -> str:
    nid = notice_id_for(f"e-{status}")
    tracker.create(nid, Status.QUEUED, {"to": "a@example.com", "event_id": f"e-{status}"}, "x")
    if status is not Status.QUEUED:
        tracker.r.hset(keys.notice(nid), "status", str(status))
    return nid


ROWS = [(src, dst) for dst in Status for src in Status]


@pytest.mark.parametrize(("source", "target"), ROWS)
def test_tracking_transition_table_is_enforced(
    tracker: Tracker, source: Status, target: Status
) -> None:
    nid = _at(tracker, source)
    outcome, previous = tracker.transition(nid, target, "test")
    assert previous == source
    if source in TRANSITIONS[target]:
        assert outcome == "ok"
        assert (tracker.get(nid) or {})["status"] == target
    else:
        assert outcome == "refused"
        assert (tracker.get(nid) or {})["status"] == source


def test_tracking_create_is_idempotent(tracker: Tracker) -> None:
    nid = notice_id_for("e1")
    assert tracker.create(nid, Status.QUEUED, {"to": "a@example.com"}, "one") == (True, "queued")
    assert tracker.create(nid, Status.QUEUED, {"to": "b@example.com"}, "two") == (False, "queued")
    assert (tracker.get(nid) or {})["to"] == "a@example.com"
    assert len(tracker.history(nid)) == 1


def test_tracking_indexes_follow_the_status(tracker: Tracker) -> None:
    nid = notice_id_for("e1")
    tracker.create(nid, Status.QUEUED, {"to": "a@example.com"}, "x")
    tracker.transition(nid, Status.SENT, "ok")
    assert tracker.counts()["sent"] == 1 and tracker.counts()["queued"] == 0
    assert tracker.ids("sent") == [nid]
    assert tracker.latest_for_address("A@example.com") == nid


def test_tracking_stale_lease_cannot_settle(tracker: Tracker) -> None:
    nid = notice_id_for("e1")
    tracker.create(nid, Status.QUEUED, {"to": "a@example.com"}, "x", schedule_at=0)
    claim = tracker.claim(nid, 60)
    assert claim.outcome == "ok"
    assert tracker.transition(nid, Status.SENT, "late", lease="123.0")[0] == "stale"
    assert tracker.transition(nid, Status.SENT, "mine", lease=claim.lease_until)[0] == "ok"


def test_tracking_claim_refuses_settled_and_not_due(tracker: Tracker) -> None:
    nid = notice_id_for("e1")
    tracker.create(nid, Status.QUEUED, {"to": "a@example.com"}, "x", schedule_at=0)
    claim = tracker.claim(nid, 60)
    tracker.transition(
        nid,
        Status.DEFERRED,
        "later",
        lease=claim.lease_until,
        schedule_at=9e12,
        fields={"next_attempt_at": "9e12"},
    )
    assert tracker.claim(nid, 60).outcome == "notdue"
    assert tracker.claim(nid, 60, force=True).outcome == "ok"


def test_tracking_claim_whose_reply_was_lost_is_taken_again_not_busy(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis ran the claim and went away before its reply: the same claim, made again once
    Redis answers, holds the lease it made (not "busy" until the lease runs out), and the
    attempt is counted once."""
    nid = notice_id_for("e-lost")
    tracker.create(nid, Status.QUEUED, {"to": "a@example.com"}, "x", schedule_at=0)
    script = tracker._claim
    calls: list[Any] = []

    def reply_lost_once(**kwargs: Any) -> Any:
        result = script(**kwargs)
        calls.append(kwargs["args"])
        if len(calls) == 1:
            raise redis.ConnectionError("Connection closed by server.")
        return result

    monkeypatch.setattr(tracker, "_claim", reply_lost_once)
    claim = tracker.claim(nid, 60)
    assert claim.outcome == "ok" and len(calls) == 2 and calls[0] == calls[1]
    assert claim.attempts == 1 and tracker.get(nid)["lease_until"] == claim.lease_until  # type: ignore[index]
    # Anyone else still finds it busy under that lease.
    monkeypatch.setattr(tracker, "_claim", script)
    assert tracker.claim(nid, 60).outcome == "busy"


def test_tracking_settled_statuses_are_terminal_or_visible() -> None:
    assert Status.QUEUED not in SETTLED and Status.DEFERRED not in SETTLED
    assert {Status.SENT, Status.FAILED, Status.BOUNCED} <= SETTLED


def test_tracking_stored_event_round_trips_with_unknown_fields() -> None:
    import json

    from tests.support.events import make_event
    from worker.intake.events import parse_event
    from worker.notices.record import event_json, merge_event

    record = {"event_id": "evt-1", "subscription_id": "sub-1", "to": "new@example.com"}
    for payload in (
        make_event(),
        make_event(foo={"bar": [1, 2]}, disable_at="2026-12-01"),
        make_event(card_brand=None, card_last4=None, subscription_name=None),
    ):
        event = parse_event(payload).to_dict()
        merged = merge_event(event_json(event), record)
        assert merged == {**event, "admin_email": "new@example.com"}
    legacy = json.dumps({"amount": "10", "currency": "TWD"})
    assert merge_event(legacy, record)["amount"] == "10"
