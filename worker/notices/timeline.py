"""Sequences and subscriptions as operators see them: state, steps, one timeline of events."""

from __future__ import annotations

from typing import Any

from worker.notices.record import iso, public
from worker.notices.sequences import Sequences
from worker.notices.store import Tracker

STEP_FIELDS = ("id", "step", "step_no", "status", "next_attempt_at", "last_error")
#: A subscription's page reads at most this many of its sequences (the latest opened).
SUBSCRIPTION_SEQUENCES = 100


def _merged(
    tracker: Tracker, sequences: Sequences, sequence_id: str
) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The sequence's record, its step records (in order), its history, and one timeline:
    the events the sequence recorded and what became of each step (with its notice id)."""
    record = sequences.get(sequence_id)
    if record is None:
        return None
    steps = tracker.records(sequences.step_ids(sequence_id))
    history = sequences.history(sequence_id)
    merged: list[dict[str, Any]] = [dict(h, step=None, notice=None) for h in history]
    for step in steps:
        label = f"{step.get('step', '')} {step.get('step_no', '')}"
        for entry in tracker.history(step["id"]):
            merged.append(dict(entry, step=label, notice=step["id"]))
    merged.sort(key=lambda e: str(e.get("at", "")))
    return record, steps, history, merged


def sequence_view(
    tracker: Tracker, sequences: Sequences, sequence_id: str
) -> dict[str, Any] | None:
    """The sequence's record, its steps (in order) and its history; None when unknown."""
    found = _merged(tracker, sequences, sequence_id)
    if found is None:
        return None
    record, steps, history, merged = found
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
        "timeline": [{k: v for k, v in e.items() if k != "notice"} for e in merged],
    }


def step_label(record: dict[str, str]) -> str:
    """``first``, ``reminder 2``, ``final 1``: which step a notice is (a first notice's
    record names no step)."""
    return f"{record.get('step') or 'first'} {record.get('step_no') or ''}".strip()


def _opened(record: dict[str, str]) -> str:
    try:
        return iso(float(record["opened_at"])) if record.get("opened_at") else ""
    except ValueError:
        return ""


def subscription_view(
    tracker: Tracker, sequences: Sequences, subscription_id: str
) -> dict[str, Any] | None:
    """Every sequence of a subscription (its index, ``pdn:sub:<id>``), every notice of
    them (all rounds and steps), and one timeline merging the sequences' events with each
    notice's history, oldest first; None when the store knows no sequence of it."""
    found = []
    for sequence_id in sequences.of_subscription(subscription_id):
        parts = _merged(tracker, sequences, sequence_id)
        if parts is not None:
            found.append((sequence_id, *parts))
    if not found:
        return None
    found.sort(key=lambda f: (_opened(f[1]), f[0]))
    shown = found[-SUBSCRIPTION_SEQUENCES:]
    views: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for sequence_id, record, steps, _, merged in shown:
        invoice = record.get("invoice_id") or None
        views.append(
            {
                "id": sequence_id,
                "invoice_id": invoice,
                "state": record.get("state"),
                "round": int(record.get("round") or 0),
                "opened_at": _opened(record) or None,
                "closed_by": record.get("closed_by") or None,
                "closed_kind": record.get("closed_kind") or None,
                "stopped": record.get("stopped") or None,
                "notices": len(steps),
            }
        )
        notices += [dict(public(r), invoice_id=invoice) for r in steps]
        labels = {r["id"]: step_label(r) for r in steps}
        timeline += [
            dict(e, sequence=sequence_id, invoice_id=invoice, step=labels.get(e["notice"]))
            for e in merged
        ]
    notices.sort(key=lambda n: (str(n.get("created_at") or ""), str(n["id"])))
    timeline.sort(key=lambda e: str(e.get("at", "")))
    return {
        "subscription_id": subscription_id,
        "sequences": views,
        "left_out": len(found) - len(shown),
        "notices": notices,
        "timeline": timeline,
    }
