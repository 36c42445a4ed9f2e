"""``python -m worker notices list|show``: tracked notices and their history."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from worker.cli.output import STORE, emit, pipeline
from worker.notices.record import public
from worker.notices.timeline import sequence_view


def cmd_notices_list(args: argparse.Namespace) -> int:
    tracker = pipeline().tracker
    if args.subscription:
        # Every notice of the subscription, its sequences' steps in order of creation.
        found = [
            r
            for r in tracker.records(tracker.ids(args.status))
            if r.get("subscription_id") == args.subscription
        ]
        records = sorted(found, key=lambda r: r.get("created_at", ""))[: args.limit]
    else:
        records = tracker.records(tracker.ids(args.status, limit=args.limit))
    emit(
        [public(r) for r in records],
        args.json,
        [
            "id",
            "event_id",
            "step",
            "step_no",
            "status",
            "attempts",
            "to",
            "updated_at",
            "last_error",
        ],
    )
    return 0


def cmd_notices_show(args: argparse.Namespace) -> int:
    """A notice id: that notice. An event id: its notice (if it made one) and the sequence
    it opened, joined or closed."""
    pipe = pipeline()
    tracker = pipe.tracker
    record = tracker.get(args.id)
    sequence_id: str | None = None
    if record is None:
        record = tracker.find(args.id)
        sequence_id = pipe.sequences.of_event(args.id)
    if record is None and sequence_id is None:
        print(f"no notice with id or event id {args.id!r}", file=sys.stderr)
        return 1
    out: dict[str, Any] = public(record, tracker.history(record["id"])) if record else {}
    if sequence_id is None and record is not None and record.get("event_id") == args.id:
        sequence_id = record.get("sequence") or None
    view = sequence_view(tracker, pipe.sequences, sequence_id) if sequence_id else None
    if view is not None:
        out["sequence"] = view
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    for key, value in out.items():
        if key not in ("history", "sequence"):
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            print(f"{key:>16}: {shown}")
    if "history" in out:
        print("         history:")
        _print_history(out["history"])
    if view is not None:
        print(
            f"        sequence: {view['id']} {view['state']} (subscription "
            f"{view['subscription_id']}, invoice {view['invoice_id'] or '-'})"
        )
        for step in view["steps"]:
            print(
                f"  {step['step'] or '-':<9} {step['step_no'] or '':<3} {step['status']:<10} "
                f"{step['id']}  {step['next_attempt_at'] or ''} {step['last_error'] or ''}"
            )
        print("  sequence history:")
        _print_history(view["history"])
    return 0


def _print_history(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        extra = {k: v for k, v in entry.items() if k not in ("at", "status", "detail")}
        print(
            f"  {entry['at']}  {entry['status']:<10} {entry['detail']}"
            + (f"  {json.dumps(extra, ensure_ascii=False)}" if extra else "")
        )


def register(sub: Any) -> None:
    notices = sub.add_parser("notices", help="tracked notices").add_subparsers(
        dest="verb", required=True
    )
    p = notices.add_parser("list")
    p.add_argument("--status")
    p.add_argument("--subscription", help="only this subscription's notices (every step)")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_list, needs=STORE)
    p = notices.add_parser("show")
    p.add_argument("id", help="notice id or event id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_show, needs=STORE)
