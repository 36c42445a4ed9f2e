"""Replaying notices: put failed, bounced or stuck notices back in the queue, once each."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker import metrics
from worker.errors import InvalidEvent
from worker.intake.addresses import key as address_key
from worker.intake.addresses import mask, normalize_address
from worker.notices.pipeline import Pipeline
from worker.notices.store import Status, addr_key
from worker.render.message import message_id

#: Without --yes, a replay of more notices than this asks for confirmation.
CONFIRM_ABOVE = 5
REPLAYABLE = frozenset({Status.FAILED, Status.DEFERRED, Status.BOUNCED, Status.SUPPRESSED})
#: These bounced off the address itself: only a corrected address may be tried.
NEED_NEW_ADDRESS = frozenset({Status.BOUNCED, Status.SUPPRESSED})


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
    if record.get("dsn_delayed") and status == Status.DEFERRED:
        return ("the receiving server reported a delay and is still trying; a replay could "
                "deliver the notice twice")
    if status in NEED_NEW_ADDRESS:
        if not to:
            return f"{status}: replay only with --to a corrected address"
        if address_key(to) == address_key(record.get("to", "")):
            return f"{status}: --to is the address that bounced"
    if to and pipeline.suppressions.get(to):
        return f"{mask(to)} is on the suppression list too"
    return None


def replay_notice(pipeline: Pipeline, notice_id: str, *, to: str | None = None,
                  reason: str = "", by: str = "", enqueue: Callable[[str], Any]
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
    fields = {"attempts": "0", "next_attempt_at": "", "last_error": "",
              "replays": str(int(record.get("replays") or 0) + 1)}
    if new_to and address_key(new_to) != address_key(record.get("to", "")):
        generation = int(record.get("generation") or 0) + 1
        # A new address is a new mail: it gets its own Message-ID. The same address keeps
        # the old one, so that a relay or reader can spot a duplicate.
        fields.update({"to": new_to, "generation": str(generation),
                       "message_id": message_id(notice_id, generation, pipeline.settings)})
    detail = f"replayed by {by}" + (f": {reason}" if reason else "")
    outcome, previous = pipeline.tracker.transition(
        notice_id, Status.QUEUED, detail, fields=fields,
        schedule_at=time.time() + pipeline.settings.lease_seconds,
        by=by, reason=reason or None, to=fields.get("to"))
    if outcome != "ok":
        return ReplayOutcome(notice_id, False, f"not replayed: status changed ({previous})")
    if "to" in fields:
        pipeline.r.set(addr_key(fields["to"]), notice_id, ex=pipeline.tracker.ttl)
    enqueue(notice_id)
    metrics.REPLAYS.inc()
    return ReplayOutcome(notice_id, True, f"queued ({previous} → queued)")


def select(pipeline: Pipeline, ids: Sequence[str], status: str, since: float | None,
           until: float | None) -> list[dict[str, str]]:
    """The records a replay is about: by id (notice or event id) or by status and window."""
    tracker = pipeline.tracker
    if ids:
        found = [tracker.find(i) for i in ids]
        return [r for r in found if r is not None]
    return tracker.records(tracker.ids(status, since, until))


def _when(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp()


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


def cmd_replay(args: argparse.Namespace) -> int:
    from worker.notices.pipeline import get_pipeline
    from worker.runtime.celery_app import app
    from worker.settings import get_settings

    settings = get_settings()
    pipeline = get_pipeline(settings)
    records = select(pipeline, args.ids, args.status, _when(args.since), _when(args.until))
    if args.ids and len(records) < len(args.ids):
        print(f"{len(args.ids) - len(records)} id(s) not found", file=sys.stderr)
    todo: list[tuple[dict[str, str], str | None]] = []
    skipped: list[tuple[dict[str, str], str | None]] = []
    for record in records:
        to = args.to
        problem = check_replay(pipeline, record, to)
        (skipped if problem else todo).append((record, problem))
    for record, problem in skipped:
        print(f"skip {record['id']} ({record.get('event_id')}): {problem}")
    if args.dry_run:
        for record, _ in todo:
            print(f"would replay {record['id']} ({record.get('event_id')}) "
                  f"{record['status']} → {args.to or record.get('to')}")
        print(f"dry run: {len(todo)} would be replayed, {len(skipped)} skipped; nothing changed")
        return 0
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
    interval = 1.0 / settings.replay_rate
    done = 0
    for n, (record, _) in enumerate(todo, 1):
        outcome = replay_notice(pipeline, record["id"], to=args.to, reason=args.reason or "",
                                by=args.by or "", enqueue=lambda nid: app.send_task(
                                    "notices.send", args=[nid, True]))
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
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="send failed (or bounced, with --to) notices again")
    p.add_argument("ids", nargs="*", help="notice ids or event ids")
    p.add_argument("--status", default="failed",
                   choices=["failed", "deferred", "bounced", "suppressed"])
    p.add_argument("--since", help="ISO 8601 time (status changed at or after)")
    p.add_argument("--until", help="ISO 8601 time (status changed at or before)")
    p.add_argument("--to", help="a corrected address (required for bounced/suppressed)")
    p.add_argument("--reason", help="why, recorded in each notice's history")
    p.add_argument("--by", help="who, recorded in history (default: the OS user)")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_replay)
