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
from worker.logs import bind
from worker.notices.deadletters import DeadLetters
from worker.notices.record import event_json, notice_id_for
from worker.notices.status import Status
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions
from worker.render.i18n import negotiate
from worker.settings import Settings
from worker.smtp.proof import message_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """What became of one event."""

    notice_id: str | None  #: None when the event was invalid
    status: Status | None  #: the notice's status; None when the event was invalid
    created: bool  #: False for a duplicate delivery of an event already accepted
    dead_letter_id: str | None = None
    reason: str | None = None
    #: The validated event (None when invalid), so a send right after need not parse it.
    event: Event | None = None

    @property
    def invalid(self) -> bool:
        return self.notice_id is None


def accept_event(
    payload: Any,
    source: str,
    *,
    tracker: Tracker,
    dead: DeadLetters,
    suppressions: Suppressions,
    settings: Settings,
) -> Intake:
    """Validate and record the event: one notice per event_id, however often it comes.

    An invalid event becomes a dead letter with its reason; a valid one becomes a notice,
    queued, or suppressed when its address is on the suppression list.
    """
    try:
        event = parse_event(payload)
    except InvalidEvent as exc:
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        dead_id = dead.add(
            payload,
            exc.reason,
            exc.field,
            source,
            event_id if isinstance(event_id, str) else None,
        )
        metrics.DEAD_LETTERS.inc()
        log.warning("invalid event dead-lettered as %s: %s", dead_id, exc.reason)
        return Intake(None, None, False, dead_id, exc.reason)
    notice_id = notice_id_for(event.event_id)
    with bind(notice_id=notice_id, event_id=event.event_id):
        suppressed = suppressions.get(event.admin_email)
        fields = {
            "event_id": event.event_id,
            "subscription_id": event.subscription_id,
            "to": event.admin_email,
            "locale": negotiate(event.locale),
            "generation": "0",
            "message_id": message_id(notice_id, 0, settings),
        }
        stored_event = event_json(event.to_dict())
        if suppressed:
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
            )
        else:
            created, status = tracker.create(
                notice_id,
                Status.QUEUED,
                fields,
                "accepted",
                schedule_at=time.time() + settings.lease_seconds,
                event=stored_event,
            )
        if created:
            metrics.NOTICES.labels(status=status).inc()
            log.info("notice %s created as %s", notice_id, status)
        else:
            log.info("duplicate event: notice %s already %s", notice_id, status)
        return Intake(notice_id, Status(status), created, event=event)
