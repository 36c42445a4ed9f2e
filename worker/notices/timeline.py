"""A sequence as operators see it: its state, its steps, and one timeline of what happened."""

from __future__ import annotations

from typing import Any

from worker.notices.record import public
from worker.notices.sequences import Sequences
from worker.notices.store import Tracker

STEP_FIELDS = ("id", "step", "step_no", "status", "next_attempt_at", "last_error")


def sequence_view(
    tracker: Tracker, sequences: Sequences, sequence_id: str
) -> dict[str, Any] | None:
    """The sequence's record, its steps (in order) and its history; None when unknown."""
    record = sequences.get(sequence_id)
    if record is None:
        return None
    steps = tracker.records(sequences.step_ids(sequence_id))
    history = sequences.history(sequence_id)
    # One timeline: the events the sequence recorded, and what became of each step.
    merged = [dict(h, step=None) for h in history]
    for step in steps:
        for entry in tracker.history(step["id"]):
            merged.append(dict(entry, step=f"{step.get('step', '')} {step.get('step_no', '')}"))
    merged.sort(key=lambda e: str(e.get("at", "")))
    return {
        "id": sequence_id,
        "subscription_id": record.get("subscription_id") or None,
        "invoice_id": record.get("invoice_id") or None,
        "state": record.get("state"),
        "round": int(record.get("round") or 0),
        "closed_by": record.get("closed_by") or None,
        "closed_kind": record.get("closed_kind") or None,
        "stopped": record.get("stopped") or None,
        "steps": [{k: public(r)[k] for k in STEP_FIELDS} for r in steps],
        "history": history,
        "timeline": merged,
    }
