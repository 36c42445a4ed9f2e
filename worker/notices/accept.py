"""Accepting an event: validate it, dead-letter it or record its notice, exactly once."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from worker import metrics
from worker.errors import InvalidEvent
from worker.intake.addresses import mask
from worker.intake.events import Event, parse_event
from worker.intake.kinds import EventType
from worker.intake.lifecycle import as_date
from worker.logs import bind
from worker.notices.deadletters import DeadLetters
from worker.notices.record import event_json, notice_id_for
from worker.notices.sequences import Decision, Sequences
from worker.notices.status import Status, Step
from worker.notices.steps import disabled_step, plan, record_steps
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions
from worker.render.i18n import negotiate
from worker.settings import Settings
from worker.smtp.proof import message_id

log = logging.getLogger(__name__)

#: The first notice's statuses after which its sequence's later steps are recorded.
_STEPS_AFTER = frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT, Status.DELIVERED})


@dataclass(frozen=True)
class Intake:
    """What became of one event."""

    notice_id: str | None  #: None when the event was invalid or makes no notice of its own
    status: Status | None  #: the notice's status; None when the event was invalid
    created: bool  #: False for a duplicate delivery of an event already accepted
    dead_letter_id: str | None = None
    reason: str | None = None
    #: The validated event (None when invalid), so a send right after need not parse it.
    event: Event | None = None
    #: The sequence the event opened, joined or closed.
    sequence_id: str | None = None
    #: The event was recorded in its sequence without a notice of its own (a failure that
    #: joined an open sequence; a payment, void or cancellation).
    recorded: bool = False

    @property
    def invalid(self) -> bool:
        return self.notice_id is None and not self.recorded


def dead_letter(
    payload: Any, exc: InvalidEvent, source: str, dead: DeadLetters, task: str
) -> Intake:
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    dead_id = dead.add(
        payload,
        exc.reason,
        exc.field,
        source,
        event_id if isinstance(event_id, str) else None,
        task=task,
    )
    metrics.DEAD_LETTERS.inc()
    log.warning("invalid event dead-lettered as %s: %s", dead_id, exc.reason)
    return Intake(None, None, False, dead_id, exc.reason)


def accept_event(
    payload: Any,
    source: str,
    *,
    tracker: Tracker,
    dead: DeadLetters,
    suppressions: Suppressions,
    settings: Settings,
    sequences: Sequences | None = None,
) -> Intake:
    """Validate and record the event: one notice per sequence step, however often it comes.

    An invalid event becomes a dead letter with its reason. A valid one opens a sequence
    (its first notice: queued, or suppressed when the address is on the suppression list,
    plus the later steps, scheduled), joins the open one (recorded, no notice), or is
    older than the payment that closed it (a cancelled notice).
    """
    try:
        event = parse_event(payload)
    except InvalidEvent as exc:
        return dead_letter(payload, exc, source, dead, EventType.CHARGE_FAILED.task)
    notice_id = notice_id_for(event.event_id)
    with bind(notice_id=notice_id, event_id=event.event_id):
        failed = as_date(event.failed_at).timestamp() if event.failed_at else time.time()
        failure = (
            sequences.fail(
                event_id=event.event_id,
                subscription_id=event.subscription_id,
                invoice_id=event.invoice_id,
                failed_at=failed,
                notice_id=notice_id,
                attempt=event.attempt,
            )
            if sequences is not None
            else None
        )
        if failure is not None and failure.decision is Decision.JOIN:
            first = tracker.get(failure.notice_id) or {}
            log.info("charge failure joined the open sequence %s", failure.sequence_id)
            current = first.get("status")
            if event.subscription_status == "disabled" and sequences is not None:
                record = sequences.get(failure.sequence_id) or {}
                made, made_status = disabled_step(
                    tracker,
                    sequences,
                    suppressions,
                    settings,
                    failure.sequence_id,
                    record,
                    event.event_id,
                )
                if made is not None:
                    return Intake(
                        made, made_status, True, event=event, sequence_id=failure.sequence_id
                    )
            return Intake(
                failure.notice_id,
                Status(current) if current else None,
                False,
                event=event,
                sequence_id=failure.sequence_id,
                recorded=True,
            )
        step = Step.DISABLED if event.subscription_status == "disabled" else Step.FIRST
        fields = {
            "event_id": event.event_id,
            "subscription_id": event.subscription_id,
            "to": event.admin_email,
            "locale": negotiate(event.locale),
            "generation": "0",
            "message_id": message_id(notice_id, 0, settings),
        }
        if failure is not None:
            fields.update(
                sequence=failure.sequence_id,
                round=str(failure.round),
                step=str(step),
                step_no="1",
            )
        stored_event = event_json(event.to_dict())
        seq = failure.sequence_id if failure is not None else None
        suppressed = suppressions.get(event.admin_email)
        if failure is not None and failure.decision is Decision.STALE:
            fields["last_error"] = "not sent: older than the payment that closed its sequence"
            created, status = tracker.create(
                notice_id,
                Status.CANCELLED,
                fields,
                "not sent: this charge failure is older than the payment (or void, or "
                "cancellation) that closed its sequence",
                event=stored_event,
                sequence=seq,
            )
        elif suppressed:
            fields["last_error"] = (
                f"address suppressed after {suppressed.get('reason')} "
                f"({suppressed.get('status') or 'no code'})"
            )
            created, status = tracker.create(
                notice_id,
                Status.SUPPRESSED,
                fields,
                f"not sent: {mask(event.admin_email)} is on the suppression list "
                f"({suppressed.get('reason')})",
                event=stored_event,
                sequence=seq,
            )
        else:
            created, status = tracker.create(
                notice_id,
                Status.QUEUED,
                fields,
                "accepted",
                schedule_at=time.time() + settings.lease_seconds,
                event=stored_event,
                sequence=seq,
            )
            if failure is not None and step is Step.FIRST and status in _STEPS_AFTER:
                # Again on a redelivery: each step is created once (its id is derived), so a
                # worker that died between the two writes leaves no step out.
                record_steps(
                    tracker,
                    sequences,  # type: ignore[arg-type]
                    settings,
                    sequence_id=failure.sequence_id,
                    round_no=failure.round,
                    base=fields,
                    stored_event=stored_event,
                    planned=plan(event, settings, time.time()),
                )
        if created:
            metrics.NOTICES.labels(status=status).inc()
            log.info("notice %s created as %s", notice_id, status)
        else:
            log.info("duplicate event: notice %s already %s", notice_id, status)
        return Intake(notice_id, Status(status), created, event=event, sequence_id=seq)
