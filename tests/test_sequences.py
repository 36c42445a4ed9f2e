"""Reminder sequences in the store (fakeredis): open, join, close, order, duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.sequences import make_payment
from tests.support.smtpd import Recorder
from worker.intake.kinds import EventType
from worker.notices.pipeline import Pipeline
from worker.notices.sequences import Decision, sequence_id_for
from worker.notices.status import ClaimOutcome, Status
from worker.settings import Settings
from worker.smtp.server import ServerThread

PAY = EventType.PAYMENT_SUCCEEDED


@pytest.fixture
def pipeline(settings: Settings, fake_redis: Any, smtp_server: ServerThread) -> Pipeline:
    return Pipeline(settings.with_(smtp_url=smtp_server.url), fake_redis)


@pytest.fixture
def reminders(settings: Settings, fake_redis: Any, smtp_server: ServerThread) -> Pipeline:
    return Pipeline(
        settings.with_(smtp_url=smtp_server.url, reminder_schedule=(3 * 86400.0, 7 * 86400.0)),
        fake_redis,
    )


def _steps(p: Pipeline, seq: str) -> list[dict[str, str]]:
    return [r for r in (p.tracker.get(i) for i in p.sequences.step_ids(seq)) if r]


def test_sequence_first_failure_opens_and_sends_the_first_notice(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    intake = pipeline.handle_event(make_event(invoice_id="in-1"))
    assert intake.status == Status.SENT
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert record["step"] == "first" and record["step_no"] == "1"
    assert record["sequence"] == sequence_id_for("sub-1", "in-1")
    assert (pipeline.sequences.get(record["sequence"]) or {})["state"] == "open"
    assert len(recorder.messages) == 1


def test_sequence_later_failure_of_the_same_invoice_joins_without_a_notice(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    first = pipeline.handle_event(make_event(invoice_id="in-1", attempt=1))
    again = pipeline.handle_event(
        make_event(event_id="evt-2", subscription_id="sub-1", invoice_id="in-1", attempt=2)
    )
    assert again.recorded and again.notice_id == first.notice_id
    assert pipeline.tracker.get(again.notice_id or "") is not None
    assert len(recorder.messages) == 1
    seq = first.sequence_id or ""
    joined = [h for h in pipeline.sequences.history(seq) if h.get("event_id") == "evt-2"]
    assert len(joined) == 1 and joined[0]["attempt"] == 2
    # A duplicate of the joining event changes nothing.
    pipeline.handle_event(make_event(event_id="evt-2", subscription_id="sub-1", invoice_id="in-1"))
    assert len(pipeline.sequences.history(seq)) == 2
    assert len(recorder.messages) == 1


def test_sequence_other_invoice_of_the_subscription_opens_its_own(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    a = pipeline.handle_event(make_event(invoice_id="in-1"))
    b = pipeline.handle_event(
        make_event(event_id="evt-2", subscription_id="sub-1", invoice_id="in-2")
    )
    assert a.sequence_id != b.sequence_id and b.status == Status.SENT
    assert len(recorder.messages) == 2


def test_sequence_payment_cancels_scheduled_reminders_at_once(reminders: Pipeline) -> None:
    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    seq = intake.sequence_id or ""
    steps = _steps(reminders, seq)
    assert [(s["step"], s["step_no"], s["status"]) for s in steps] == [
        ("first", "1", "sent"),
        ("reminder", "1", "scheduled"),
        ("reminder", "2", "scheduled"),
    ]
    out = reminders.handle(make_payment(invoice_id="in-1"), PAY)
    assert out.recorded and out.created
    after = {s["step_no"] + s["step"]: s["status"] for s in _steps(reminders, seq)}
    assert after == {"1first": "sent", "1reminder": "cancelled", "2reminder": "cancelled"}
    assert reminders.tracker.counts()["scheduled"] == 0
    history = reminders.tracker.history(steps[1]["id"])
    assert history[-1]["status"] == "cancelled" and history[-1]["by"] == "pay-1"
    state = reminders.sequences.get(seq) or {}
    assert state["state"] == "closed" and state["closed_by"] == "pay-1"


def test_sequence_payment_without_invoice_closes_every_open_sequence(reminders: Pipeline) -> None:
    a = reminders.handle_event(make_event(invoice_id="in-1"))
    b = reminders.handle_event(
        make_event(event_id="evt-2", subscription_id="sub-1", invoice_id="in-2")
    )
    reminders.handle(make_payment(occurred_at="2026-11-25T00:00:00Z"), PAY)
    for seq in (a.sequence_id or "", b.sequence_id or ""):
        assert (reminders.sequences.get(seq) or {})["state"] == "closed"
        assert {s["status"] for s in _steps(reminders, seq) if s["step"] == "reminder"} == {
            "cancelled"
        }


def test_sequence_duplicate_payment_changes_nothing(reminders: Pipeline) -> None:
    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    reminders.handle(make_payment(invoice_id="in-1"), PAY)
    seq = intake.sequence_id or ""
    before = reminders.sequences.history(seq)
    again = reminders.handle(make_payment(invoice_id="in-1"), PAY)
    assert not again.created
    assert reminders.sequences.history(seq) == before


def test_sequence_stale_failure_after_a_known_payment_is_cancelled_and_not_sent(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    # The payment arrives first; the failure it settles arrives late.
    pipeline.handle(make_payment(invoice_id="in-1", occurred_at="2026-11-21T09:00:00Z"), PAY)
    late = pipeline.handle_event(make_event(invoice_id="in-1", failed_at="2026-11-20T08:30:00Z"))
    assert late.status == Status.CANCELLED
    assert recorder.messages == []
    assert (pipeline.tracker.get(late.notice_id or "") or {})["step"] == "first"


def test_sequence_failure_newer_than_the_payment_opens_a_new_round(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    pipeline.handle(make_payment(occurred_at="2026-11-21T09:00:00Z"), PAY)
    stale = pipeline.handle_event(make_event(failed_at="2026-11-20T08:30:00Z"))
    fresh = pipeline.handle_event(
        make_event(event_id="evt-new", subscription_id="sub-1", failed_at="2026-12-20T08:30:00Z")
    )
    assert stale.status == Status.CANCELLED and fresh.status == Status.SENT
    assert (pipeline.sequences.get(fresh.sequence_id or "") or {})["round"] == "1"
    assert len(recorder.messages) == 1


def test_sequence_payment_older_than_the_failure_leaves_it_open(reminders: Pipeline) -> None:
    intake = reminders.handle_event(make_event(failed_at="2026-11-20T08:30:00Z"))
    reminders.handle(make_payment(occurred_at="2026-10-01T00:00:00Z"), PAY)
    assert (reminders.sequences.get(intake.sequence_id or "") or {})["state"] == "open"


def test_sequence_claim_refuses_a_step_of_a_closed_sequence(reminders: Pipeline) -> None:
    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    seq = intake.sequence_id or ""
    reminder = _steps(reminders, seq)[1]["id"]
    # The payment lands while the step is being prepared: closed, but the step not reached
    # by the close (as if it were leased then); the claim itself must refuse it.
    reminders.r.hset(
        f"pdn:q:{seq}",
        mapping={"state": "closed", "closed_kind": "payment_succeeded", "closed_by": "pay-9"},
    )
    claim = reminders.tracker.claim(reminder, 60, force=True)
    assert claim.outcome is ClaimOutcome.CANCELLED
    record = reminders.tracker.get(reminder) or {}
    assert record["status"] == "cancelled" and "pay-9" in record["last_error"]
    assert reminders.tracker.history(reminder)[-1]["by"] == "pay-9"


def test_sequence_due_reminder_is_sent_while_the_sequence_is_open(
    reminders: Pipeline, recorder: Recorder
) -> None:
    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    reminder = _steps(reminders, intake.sequence_id or "")[1]["id"]
    assert reminders.deliver(reminder, force=True) is not ClaimOutcome.CANCELLED
    assert (reminders.tracker.get(reminder) or {})["status"] == "sent"
    assert len(recorder.messages) == 2


def test_sequence_suppressed_address_stops_the_reminders(
    reminders: Pipeline, recorder: Recorder
) -> None:
    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    seq = intake.sequence_id or ""
    reminder = _steps(reminders, seq)[1]["id"]
    reminders.suppressions.add(
        "admin@example.com",
        notice_id=intake.notice_id or "",
        reason="userunknown",
        status="5.1.1",
        kind="hard",
    )
    assert reminders.deliver(reminder, force=True) is ClaimOutcome.STOPPED
    assert (reminders.tracker.get(reminder) or {})["status"] == "suppressed"
    assert any("suppressed" in h["detail"] for h in reminders.sequences.history(seq))
    assert len(recorder.messages) == 1


def test_sequence_payment_arriving_between_open_and_first_send_stops_it(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    intake = pipeline.accept(make_event(invoice_id="in-1"))
    assert intake.status == Status.QUEUED
    pipeline.handle(make_payment(invoice_id="in-1"), PAY)
    assert pipeline.deliver(intake.notice_id or "", force=True) is ClaimOutcome.SETTLED
    assert (pipeline.tracker.get(intake.notice_id or "") or {})["status"] == "cancelled"
    assert recorder.messages == []


def test_sequence_disabled_event_sends_the_disabled_step_once(
    reminders: Pipeline, recorder: Recorder
) -> None:
    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    seq = intake.sequence_id or ""
    disabled = make_payment(type="subscription_disabled", event_id="dis-1", invoice_id="in-1")
    out = reminders.handle(disabled, EventType.SUBSCRIPTION_DISABLED)
    reminders.handle(disabled, EventType.SUBSCRIPTION_DISABLED)
    assert out.status == Status.SENT
    by_step = {s["step"] + s["step_no"]: s["status"] for s in _steps(reminders, seq)}
    assert by_step == {
        "first1": "sent",
        "reminder1": "cancelled",
        "reminder2": "cancelled",
        "disabled1": "sent",
    }
    assert len(recorder.messages) == 2


def test_sequence_wrong_type_for_the_task_is_a_dead_letter(pipeline: Pipeline) -> None:
    out = pipeline.handle(make_event(type="payment_succeeded"), EventType.CHARGE_FAILED)
    assert out.invalid and "does not match the task notices.charge_failed" in (out.reason or "")
    out = pipeline.handle(make_payment(), EventType.INVOICE_VOIDED)
    assert out.invalid and (out.reason or "").startswith("type: is payment_succeeded")
    dead = pipeline.dead.list()
    assert {d.get("task", "notices.charge_failed") for d in dead} == {
        "notices.charge_failed",
        "notices.invoice_voided",
    }


def test_sequence_decision_values_are_the_documented_ones() -> None:
    assert {d.value for d in Decision} == {"open", "join", "stale"}


def test_sequence_replay_of_a_cancelled_step_needs_the_sequence_open_again(
    reminders: Pipeline, recorder: Recorder
) -> None:
    from worker.notices.replay import replay_notice

    intake = reminders.handle_event(make_event(invoice_id="in-1"))
    seq = intake.sequence_id or ""
    reminder = _steps(reminders, seq)[1]["id"]
    reminders.handle(make_payment(invoice_id="in-1"), PAY)
    sent: list[str] = []
    refused = replay_notice(reminders, reminder, by="ops", enqueue=sent.append)
    assert not refused.done and "sequence is closed" in refused.message and sent == []
    # A newer failure of the same invoice opens the sequence again: now it may go.
    reminders.handle_event(
        make_event(
            event_id="evt-later",
            subscription_id="sub-1",
            invoice_id="in-1",
            failed_at="2026-12-20T08:30:00Z",
        )
    )
    done = replay_notice(reminders, reminder, by="ops", enqueue=sent.append)
    assert done.done and sent == [reminder]
    assert reminders.deliver(reminder) is not ClaimOutcome.CANCELLED
    assert (reminders.tracker.get(reminder) or {})["status"] == "sent"
