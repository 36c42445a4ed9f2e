"""``python -m worker notices list|show``: tracked notices and their history."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from worker.cli.arguments import STATUS_NAMES, status_name
from worker.cli.output import STORE, emit, pipeline
from worker.notices.record import public


def cmd_notices_list(args: argparse.Namespace) -> int:
    tracker = pipeline().tracker
    records = tracker.records(tracker.ids(args.status, limit=args.limit))
    emit(
        [public(r) for r in records],
        args.json,
        ["id", "event_id", "status", "attempts", "to", "updated_at", "last_error"],
    )
    return 0


def cmd_notices_show(args: argparse.Namespace) -> int:
    tracker = pipeline().tracker
    record = tracker.find(args.id)
    if record is None:
        print(f"no notice with id or event id {args.id!r}", file=sys.stderr)
        return 1
    out = public(record, tracker.history(record["id"]))
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    for key, value in out.items():
        if key != "history":
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            print(f"{key:>16}: {shown}")
    print("         history:")
    for entry in out["history"]:
        extra = {k: v for k, v in entry.items() if k not in ("at", "status", "detail")}
        print(
            f"  {entry['at']}  {entry['status']:<10} {entry['detail']}"
            + (f"  {json.dumps(extra, ensure_ascii=False)}" if extra else "")
        )
    return 0


def register(sub: Any) -> None:
    notices = sub.add_parser("notices", help="tracked notices").add_subparsers(
        dest="verb", required=True
    )
    p = notices.add_parser("list")
    p.add_argument("--status", type=status_name, help="one of " + ", ".join(STATUS_NAMES))
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_list, needs=STORE)
    p = notices.add_parser("show")
    p.add_argument("id", help="notice id or event id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_show, needs=STORE)
