"""The later steps of a sequence: when each is due, and recording them as scheduled notices.

Reminders and the final notice fall inside SEND_WINDOW in the recipient's time zone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from worker.errors import InvalidEvent
from worker.intake.events import Event, parse_event
from worker.intake.lifecycle import as_date
from worker.notices.record import event_json, iso
from worker.notices.sequences import Sequences, step_notice_id
from worker.notices.status import PENDING, Status, Step
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions
from worker.render.context import LOCALE_TIMEZONES
from worker.render.i18n import negotiate
from worker.settings import Settings
from worker.smtp.proof import message_id

#: A final notice due sooner than this after the first notice is left out: the first
#: notice already names the date service stops.
MIN_GAP = 3600.0


@dataclass(frozen=True)
class Planned:
    step: Step
    step_no: int
    due: float  #: epoch seconds


def recipient_zone(event: Event, settings: Settings) -> ZoneInfo:
    """The event's time zone, else TIMEZONE, else the locale's default."""
    name = event.timezone or settings.timezone or LOCALE_TIMEZONES.get(negotiate(event.locale))
    return ZoneInfo(name or "UTC")


def in_window(due: float, window: tuple[int, int] | None, zone: ZoneInfo) -> float:
    """``due``, or the next moment inside the local window when it falls outside."""
    if window is None:
        return due
    start, end = window
    local = datetime.fromtimestamp(due, zone)
    minute = local.hour * 60 + local.minute
    if start <= minute < end:
        return due
    day = local.date() if minute < start else local.date() + timedelta(days=1)
    opening = datetime(day.year, day.month, day.day, start // 60, start % 60, tzinfo=zone)
    return opening.timestamp()


def plan(event: Event, settings: Settings, first_at: float) -> list[Planned]:
    """The reminder and final steps for a sequence whose first notice went at ``first_at``.

    None without REMINDER_SCHEDULE (an upgrade sends no new kind of mail by itself). No
    step is planned at or after the date service stops.
    """
    if not settings.reminder_schedule:
        return []
    zone = recipient_zone(event, settings)
    stop = as_date(event.disable_at).timestamp() if event.disable_at is not None else None
    final = stop - settings.final_notice_before if stop is not None else None
    if final is not None and final < first_at + MIN_GAP:
        final = None
    limit = final if final is not None else stop
    steps = [
        Planned(Step.REMINDER, n, in_window(first_at + offset, settings.send_window, zone))
        for n, offset in enumerate(settings.reminder_schedule, start=1)
    ]
    steps = [s for s in steps if limit is None or s.due < limit]
    if final is not None:
        steps.append(Planned(Step.FINAL, 1, in_window(final, settings.send_window, zone)))
    return steps


def record_steps(
    tracker: Tracker,
    sequences: Sequences,
    settings: Settings,
    *,
    sequence_id: str,
    round_no: int,
    base: dict[str, str],
    stored_event: str,
    planned: list[Planned],
) -> list[str]:
    """Create each planned step as a ``scheduled`` notice (once: the ids are derived)."""
    created: list[str] = []
    for item in planned:
        notice_id = step_notice_id(sequence_id, round_no, item.step, item.step_no)
        sequences.add_step(sequence_id, notice_id, item.due)
        fields = _step_fields(base, item, notice_id, settings)
        fields["next_attempt_at"] = repr(item.due)
        made, _ = tracker.create(
            notice_id,
            Status.SCHEDULED,
            fields,
            f"{item.step} step scheduled for {iso(item.due)}",
            schedule_at=item.due,
            event=stored_event,
            sequence=sequence_id,
        )
        if made:
            created.append(notice_id)
    return created


def _step_fields(
    base: dict[str, str], item: Planned, notice_id: str, s: Settings
) -> dict[str, Any]:
    return {
        **base,
        "step": str(item.step),
        "step_no": str(item.step_no),
        "generation": "0",
        "message_id": message_id(notice_id, 0, s),
    }


def disabled_step(
    tracker: Tracker,
    sequences: Sequences,
    suppressions: Suppressions,
    settings: Settings,
    seq: str,
    record: dict[str, str],
    by: str,
) -> tuple[str | None, Status | None]:
    """Create the sequence's ``disabled`` notice (once), from its first notice's event."""
    first = tracker.get(record.get("first", ""))
    if first is None:
        return None, None
    round_no = int(record.get("round") or 1)
    notice_id = step_notice_id(seq, round_no, Step.DISABLED, 1)
    stored = dict(tracker.event(first), subscription_status="disabled")
    try:
        parse_event(stored)
    except InvalidEvent:  # the first notice's event no longer passes: nothing to render
        return None, None
    for step_id in sequences.step_ids(seq):
        step = tracker.get(step_id) or {}
        if step.get("step") in ("reminder", "final") and step.get("status") in PENDING:
            tracker.transition(
                step_id,
                Status.CANCELLED,
                f"not sent: the subscription was disabled ({by})",
                unschedule=True,
                fields={"last_error": "not sent: the subscription was disabled"},
            )
    fields: dict[str, str] = {
        k: first[k] for k in ("subscription_id", "to", "locale", "sequence", "round") if k in first
    }
    fields.update(
        event_id=first.get("event_id", ""),
        step=str(Step.DISABLED),
        step_no="1",
        generation="0",
        message_id=message_id(notice_id, 0, settings),
    )
    sequences.add_step(seq, notice_id, time.time())
    suppressed = suppressions.get(first.get("to", ""))
    created, status = tracker.create(
        notice_id,
        Status.SUPPRESSED if suppressed else Status.QUEUED,
        fields,
        f"disabled notice: the billing platform stopped the service ({by})",
        schedule_at=None if suppressed else time.time(),
        event=event_json(stored),
        sequence=seq,
    )
    if created:
        sequences.note(seq, "open", "the subscription was disabled: disabled notice", event_id=by)
    return notice_id, Status(status)
