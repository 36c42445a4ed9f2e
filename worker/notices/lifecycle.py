"""Accepting a payment, void, cancellation or disabled subscription, once per event_id.

None makes a notice of its own, except the ``disabled`` step of a stopped service.
"""

from __future__ import annotations

import logging
from typing import Any

from worker import metrics
from worker.errors import InvalidEvent
from worker.intake.kinds import CLOSING, EventType
from worker.intake.lifecycle import LifecycleEvent, parse_lifecycle
from worker.logs import bind
from worker.notices.accept import Intake, dead_letter
from worker.notices.deadletters import DeadLetters
from worker.notices.sequences import Sequences, sequence_id_for
from worker.notices.status import Status
from worker.notices.steps import disabled_step
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions
from worker.settings import Settings

log = logging.getLogger(__name__)


def accept_lifecycle(
    payload: Any,
    kind: EventType,
    source: str,
    *,
    tracker: Tracker,
    dead: DeadLetters,
    sequences: Sequences,
    suppressions: Suppressions,
    settings: Settings,
) -> Intake:
    """Validate the event (a dead letter when invalid, or on the wrong task) and apply it."""
    try:
        event = parse_lifecycle(payload, kind)
    except InvalidEvent as exc:
        return dead_letter(payload, exc, source, dead, kind.task)
    with bind(event_id=event.event_id):
        if kind in CLOSING:
            closing = sequences.close(event)
            if closing.duplicate:
                log.info("duplicate %s: already recorded", kind)
            else:
                metrics.NOTICES.labels(status="cancelled").inc(closing.cancelled)
                log.info(
                    "%s closed %d sequence(s), cancelled %d pending step(s)%s",
                    kind,
                    closing.closed,
                    closing.cancelled,
                    f", {closing.leased} being sent now" if closing.leased else "",
                )
            seq = sequence_id_for(event.subscription_id, event.invoice_id)
            return Intake(
                None,
                None,
                not closing.duplicate,
                sequence_id=seq if event.invoice_id else None,
                recorded=True,
            )
        return _disabled(event, tracker, sequences, suppressions, settings)


def _disabled(
    event: LifecycleEvent,
    tracker: Tracker,
    sequences: Sequences,
    suppressions: Suppressions,
    settings: Settings,
) -> Intake:
    """The billing platform stopped the service: each open sequence it names gets its one
    ``disabled`` notice (the pending reminders, which speak of a date still to come, are
    cancelled). With no open sequence there is no one to tell: recorded, nothing sent."""
    ids = (
        [sequence_id_for(event.subscription_id, event.invoice_id)]
        if event.invoice_id
        else sequences.of_subscription(event.subscription_id)
    )
    made: str | None = None
    status: Status | None = None
    for seq in ids:
        record = sequences.get(seq)
        if not record or record.get("state") != "open":
            continue
        made, status = disabled_step(
            tracker, sequences, suppressions, settings, seq, record, event.event_id
        )
    if made is None:
        log.info("subscription_disabled for no open sequence: recorded, nothing to send")
    return Intake(made, status, made is not None, recorded=made is None)
