"""``python -m worker notices list|show``: tracked notices and their history."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from worker.cli.arguments import STATUS_NAMES, address, status_name
from worker.cli.output import STORE, emit, pipeline
from worker.notices.forget import forget
from worker.notices.record import public
from worker.notices.status import Status
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
            print(f"{key:>16}: {_shown(value)}")
    lease = _lease(record, out) if record is not None else ""
    if lease:
        print(f"{'lease':>16}: {lease}")
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
                f"{step['id']}  {_shown(step['next_attempt_at'])} {_shown(step['last_error'])}"
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


def cmd_notices_forget(args: argparse.Namespace) -> int:
    found = forget(pipeline(), args.address, dry_run=not args.yes)
    if found.empty():
        print("the store holds nothing about this address")
        return 0
    if not args.yes:
        print(f"dry run: would erase {found.summary()}; nothing changed (erase with --yes)")
        return 0
    print(f"erased {found.summary()}")
    return 0


def _shown(value: Any) -> str:
    """A field as a line shows it: "-" for nothing (never Python's None), objects as JSON."""
    if value is None or value == "":
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _lease(record: dict[str, str], out: dict[str, Any]) -> str:
    """What a notice being sent is waiting for: its lease, said in words."""
    if record.get("status") not in (Status.QUEUED, Status.DEFERRED) or not out.get("lease_until"):
        return ""
    since = f"handed to a worker at {out['handed_at']}; " if out.get("handed_at") else ""
    if float(record["lease_until"]) > time.time():
        return f"{since}lease expires at {out['lease_until']}, then it is retried"
    return f"{since}lease expired at {out['lease_until']}: it is retried at the next sweep"


def register(sub: Any) -> None:
    notices = sub.add_parser("notices", help="tracked notices").add_subparsers(
        dest="verb", required=True
    )
    p = notices.add_parser("list")
    p.add_argument("--status", type=status_name, help="one of " + ", ".join(STATUS_NAMES))
    p.add_argument("--subscription", help="only this subscription's notices (every step)")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_list, needs=STORE)
    p = notices.add_parser("show")
    p.add_argument("id", help="notice id or event id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_show, needs=STORE)
    p = notices.add_parser("forget", help="erase one address's data (a deletion request)")
    p.add_argument("address", type=address)
    p.add_argument("--yes", action="store_true", help="erase (without it: a dry run)")
    p.set_defaults(func=cmd_notices_forget, needs=STORE)
