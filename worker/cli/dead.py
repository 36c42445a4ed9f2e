"""``python -m worker dead list|show|requeue|drop``: invalid events waiting for an operator."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from worker.cli.output import STORE, celery_app, emit, pipeline, read_input
from worker.intake import producer


def as_json(record: dict[str, str]) -> dict[str, Any]:
    """A dead letter for ``--json``: ``payload`` the event as JSON, not a string holding it
    (kept a string when it is no JSON: bytes, a cut payload)."""
    out: dict[str, Any] = dict(record)
    with contextlib.suppress(ValueError, RecursionError):
        out["payload"] = json.loads(record.get("payload", ""))
    return out


def cmd_dead_list(args: argparse.Namespace) -> int:
    records = pipeline().dead.list()
    if args.json:
        emit([as_json(r) for r in records], True, [])
    else:
        emit(records, False, ["id", "at", "source", "event_id", "reason"])
    return 0


def cmd_dead_show(args: argparse.Namespace) -> int:
    record = pipeline().dead.get(args.id)
    if record is None:
        print(f"no dead letter {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(as_json(record), ensure_ascii=False))
    else:
        for key in ("id", "at", "source", "event_id", "field", "reason"):
            print(f"{key:>9}: {record.get(key, '')}")
        print(f"  payload:\n{record.get('payload', '')}")
    return 0


def cmd_dead_requeue(args: argparse.Namespace) -> int:
    corrected = read_input(args.from_file) if args.from_file else None
    app = celery_app()
    outcome = pipeline().dead.requeue(
        args.id, lambda task, payload: producer.publish_to(app, task, payload), corrected
    )
    if not outcome.done:
        hint = " (fix it with --from-file)" if "still invalid" in outcome.message else ""
        print(outcome.message + hint, file=sys.stderr)
        return 1
    print(outcome.message)
    return 0


def cmd_dead_drop(args: argparse.Namespace) -> int:
    if not pipeline().dead.drop(args.id):
        print(f"no dead letter {args.id!r}", file=sys.stderr)
        return 1
    print(f"dropped {args.id}")
    return 0


def register(sub: Any) -> None:
    dead = sub.add_parser("dead", help="dead letters (invalid events)").add_subparsers(
        dest="verb", required=True
    )
    p = dead.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dead_list, needs=STORE)
    p = dead.add_parser("show")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dead_show, needs=STORE)
    p = dead.add_parser("requeue")
    p.add_argument("id")
    p.add_argument("--from-file", help="a corrected event to queue instead")
    p.set_defaults(func=cmd_dead_requeue, needs=STORE)
    p = dead.add_parser("drop")
    p.add_argument("id")
    p.set_defaults(func=cmd_dead_drop, needs=STORE)
