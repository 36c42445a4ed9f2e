"""``python -m worker replay``: send failed (or bounced, to a corrected address) notices again."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from worker.cli.arguments import address, iso_time
from worker.cli.output import SIGNS, celery_app, pipeline, settings
from worker.intake.producer import enqueue_send
from worker.notices.replay import check_replay, replay_notice, select

#: Without --yes, a replay of more notices than this asks for confirmation.
CONFIRM_ABOVE = 5


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


def cmd_replay(args: argparse.Namespace) -> int:
    config = settings()
    pipe = pipeline()
    records = select(pipe, args.ids, args.status, args.since, args.until)
    missing = len(args.ids) - len(records) if args.ids else 0
    if missing:
        print(f"{missing} id(s) not found", file=sys.stderr)
    todo: list[tuple[dict[str, str], str | None]] = []
    skipped: list[tuple[dict[str, str], str | None]] = []
    for record in records:
        problem = check_replay(pipe, record, args.to)
        (skipped if problem else todo).append((record, problem))
    for record, problem in skipped:
        print(f"skip {record['id']} ({record.get('event_id')}): {problem}")
    if args.dry_run:
        for record, _ in todo:
            print(
                f"would replay {record['id']} ({record.get('event_id')}) "
                f"{record['status']} → {args.to or record.get('to')}"
            )
        print(f"dry run: {len(todo)} would be replayed, {len(skipped)} skipped; nothing changed")
        return 1 if missing else 0
    if not todo:
        print("nothing to replay")
        return 1 if args.ids else 0
    if len(todo) > CONFIRM_ABOVE and not args.yes:
        if not sys.stdin.isatty():
            print(f"{len(todo)} notices would be replayed: confirm with --yes", file=sys.stderr)
            return 1
        answer = input(f"Replay {len(todo)} notices? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("cancelled")
            return 1
    app = celery_app()
    interval = 1.0 / config.replay_rate
    done = 0
    for n, (record, _) in enumerate(todo, 1):
        outcome = replay_notice(
            pipe,
            record["id"],
            to=args.to,
            reason=args.reason or "",
            by=args.by or "",
            enqueue=lambda nid: enqueue_send(app, nid, force=True),
        )
        done += outcome.done
        if len(todo) > 1:
            _progress(n, len(todo))
        if not outcome.done:
            print(f"\nskip {outcome.notice_id}: {outcome.message}", file=sys.stderr)
        if n < len(todo):
            time.sleep(interval)  # paced: a mass replay must not flood the relay
    if len(todo) > 1:
        sys.stderr.write("\n")
    print(f"{done} replayed, {len(todo) - done + len(skipped)} skipped")
    return 1 if missing else 0


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="send failed (or bounced, with --to) notices again")
    p.add_argument("ids", nargs="*", help="notice ids or event ids")
    p.add_argument(
        "--status",
        default="failed",
        choices=["failed", "deferred", "bounced", "suppressed", "cancelled"],
    )
    p.add_argument("--since", type=iso_time, help="ISO 8601 time (status changed at or after)")
    p.add_argument("--until", type=iso_time, help="ISO 8601 time (status changed at or before)")
    p.add_argument(
        "--to", type=address, help="a corrected address (required for bounced/suppressed)"
    )
    p.add_argument("--reason", help="why, recorded in each notice's history")
    p.add_argument("--by", help="who, recorded in history (default: the OS user)")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_replay, needs=SIGNS)
