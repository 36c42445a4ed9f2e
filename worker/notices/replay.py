"""Replaying notices: put failed, bounced or stuck notices back in the queue, once each."""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker import metrics
from worker.errors import InvalidEvent
from worker.intake.addresses import key as address_key
from worker.intake.addresses import mask, normalize_address
from worker.notices.pipeline import Pipeline
from worker.notices.status import NEED_NEW_ADDRESS, REPLAYABLE, Status, TransitionOutcome
from worker.smtp.proof import message_id


@dataclass(frozen=True)
class ReplayOutcome:
    notice_id: str
    done: bool  #: True when the notice was put back in the queue
    message: str


def check_replay(pipeline: Pipeline, record: dict[str, str], to: str | None) -> str | None:
    """Why this notice may not be replayed (to ``to``), or None when it may."""
    status = record.get("status", "")
    if status in (Status.SENT, Status.DELIVERED):
        return f"already {status}: a notice the relay accepted is never sent again"
    if status == Status.QUEUED:
        return "already queued: a send or an earlier replay is in flight"
    if status not in REPLAYABLE:
        return f"status {status} cannot be replayed"
    if status == Status.CANCELLED:
        sequence = pipeline.sequences.get(record.get("sequence", "")) or {}
        if sequence.get("state") != "open":
            by = sequence.get("closed_by")
            return (
                "cancelled: its sequence is closed"
                + (f" ({sequence.get('closed_kind')} {by})" if by else "")
                + "; a replay is possible only once the sequence is open again"
            )
    if record.get("dsn_delayed") and status == Status.DEFERRED:
        return (
            "the receiving server reported a delay and is still trying; a replay could "
            "deliver the notice twice"
        )
    if status in NEED_NEW_ADDRESS:
        same = not to or address_key(to) == address_key(record.get("to", ""))
        # An operator who took the address off the suppression list (the customer fixed
        # the mailbox) may send to it again; otherwise only a corrected address will do.
        if same and not pipeline.suppressions.lifted(record.get("to", "")):
            if not to:
                return (
                    f"{status}: replay only with --to a corrected address (or once the "
                    "address is off the suppression list: suppressions remove)"
                )
            return f"{status}: --to is the address that bounced (and is not off the list)"
    if to and pipeline.suppressions.get(to):
        return f"{mask(to)} is on the suppression list too"
    return None


def replay_notice(
    pipeline: Pipeline,
    notice_id: str,
    *,
    to: str | None = None,
    reason: str = "",
    by: str = "",
    enqueue: Callable[[str], Any],
) -> ReplayOutcome:
    """Put one notice back in the queue and hand it to ``enqueue``."""
    record = pipeline.tracker.find(notice_id)
    if record is None:
        return ReplayOutcome(notice_id, False, "no such notice")
    notice_id = record["id"]
    new_to: str | None = None
    if to:
        try:
            new_to = normalize_address(to, "to")
        except InvalidEvent as exc:
            return ReplayOutcome(notice_id, False, exc.reason)
    problem = check_replay(pipeline, record, new_to)
    if problem:
        return ReplayOutcome(notice_id, False, problem)
    by = by or getpass.getuser()
    fields = {
        "attempts": "0",
        "next_attempt_at": "",
        "last_error": "",
        # The bounce stays in the history; the record shows the notice as it is now.
        "bounce": "",
        "replays": str(int(record.get("replays") or 0) + 1),
    }
    if record.get("status") == Status.CANCELLED and record.get("sequence"):
        # Open again means a new round: the step goes out as part of it.
        current = pipeline.sequences.get(record["sequence"]) or {}
        fields["round"] = current.get("round", record.get("round", ""))
    if new_to and address_key(new_to) != address_key(record.get("to", "")):
        generation = int(record.get("generation") or 0) + 1
        # A new address is a new mail: it gets its own Message-ID. The same address keeps
        # the old one, so that a relay or reader can spot a duplicate.
        fields.update(
            {
                "to": new_to,
                "generation": str(generation),
                "message_id": message_id(notice_id, generation, pipeline.settings),
            }
        )
    detail = f"replayed by {by}" + (f": {reason}" if reason else "")
    outcome, previous = pipeline.tracker.transition(
        notice_id,
        Status.QUEUED,
        detail,
        fields=fields,
        schedule_at=time.time() + pipeline.settings.lease_seconds,
        by=by,
        reason=reason or None,
        to=fields.get("to"),
    )
    if outcome is not TransitionOutcome.OK:
        return ReplayOutcome(notice_id, False, f"not replayed: status changed ({previous})")
    if "to" in fields:
        pipeline.tracker.point_address(fields["to"], notice_id)
    enqueue(notice_id)
    metrics.REPLAYS.inc()
    return ReplayOutcome(notice_id, True, f"queued ({previous} → queued)")


def select(
    pipeline: Pipeline, ids: Sequence[str], status: str, since: float | None, until: float | None
) -> list[dict[str, str]]:
    """The records a replay is about: by id (notice or event id) or by status and window."""
    tracker = pipeline.tracker
    if ids:
        found = [tracker.find(i) for i in ids]
        return [r for r in found if r is not None]
    return tracker.records(tracker.ids(status, since, until))
