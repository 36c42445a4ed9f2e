"""``python -m worker …``: the command line."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from worker.errors import ConfigurationError, InvalidEvent

#: Modules that add their own verbs: each has ``register(subparsers)``.
PLUGINS = ("worker.cli.bounces", "worker.notices.replay", "worker.cli.web")


def _settings() -> Any:
    from worker.settings import get_settings

    return get_settings()


def _pipeline() -> Any:
    from worker.notices.pipeline import get_pipeline

    return get_pipeline(_settings())


def emit(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    """JSON lines, or an aligned table of ``columns``."""
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c) if r.get(c) is not None else "")) for r in rows))
              for c in columns}
    print("  ".join(c.ljust(min(widths[c], 40)) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c) if row.get(c) is not None else "")[:60]
                        .ljust(min(widths[c], 40)) for c in columns))


# -- publish ------------------------------------------------------------------------------
def cmd_publish(args: argparse.Namespace) -> int:
    from worker.intake import producer as intake
    from worker.notices.store import notice_id_for
    from worker.runtime.celery_app import app

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    items = list(intake.read_events(text))
    invalid = 0
    queued = 0
    for item in items:
        reason = intake.check(item)
        if reason:
            invalid += 1
            print(f"invalid event #{item.index}: {reason}", file=sys.stderr)
            continue
        try:
            intake.publish(app, item.payload)
        except Exception as exc:
            url = _settings().effective_broker_url
            print(f"error: could not queue event #{item.index} "
                  f"({item.payload.get('event_id')}): the broker at {_redact(url)} is not "
                  f"reachable ({exc.__class__.__name__}: {exc}); {queued} queued before it",
                  file=sys.stderr)
            return 3
        queued += 1
        print(f"queued event #{item.index} {item.payload['event_id']} "
              f"(notice {notice_id_for(item.payload['event_id'])})")
    print(f"{queued} queued, {invalid} invalid", file=sys.stderr)
    return 1 if invalid else 0


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


# -- notices ------------------------------------------------------------------------------
def cmd_notices_list(args: argparse.Namespace) -> int:
    from worker.notices.store import public

    tracker = _pipeline().tracker
    records = tracker.records(tracker.ids(args.status, limit=args.limit))
    emit([public(r) for r in records], args.json,
         ["id", "event_id", "status", "attempts", "to", "updated_at", "last_error"])
    return 0


def cmd_notices_show(args: argparse.Namespace) -> int:
    from worker.notices.store import public

    tracker = _pipeline().tracker
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
        print(f"  {entry['at']}  {entry['status']:<10} {entry['detail']}"
              + (f"  {json.dumps(extra, ensure_ascii=False)}" if extra else ""))
    return 0


# -- render -------------------------------------------------------------------------------
def cmd_render(args: argparse.Namespace) -> int:
    from worker.intake.events import decode, parse_event
    from worker.notices.store import notice_id_for
    from worker.render.message import message_bytes
    from worker.render.renderer import Renderer

    settings = _settings()
    text = sys.stdin.read() if args.event_file == "-" else Path(args.event_file).read_text(
        encoding="utf-8")
    try:
        event = parse_event(decode(text))
    except InvalidEvent as exc:
        print(f"invalid event: {exc.reason}", file=sys.stderr)
        return 1
    rendered = Renderer(settings).render(event, args.locale)
    if args.format == "subject":
        print(rendered.subject)
    elif args.format == "text":
        sys.stdout.write(rendered.text)
    elif args.format == "html":
        print(rendered.html)
    else:
        sys.stdout.buffer.write(message_bytes(
            rendered, to=event.admin_email, notice_id=notice_id_for(event.event_id),
            generation=0, settings=settings))
    return 0


# -- dead letters -------------------------------------------------------------------------
def cmd_dead_list(args: argparse.Namespace) -> int:
    records = _pipeline().dead.list()
    if args.json:
        emit(records, True, [])
    else:
        emit(records, False, ["id", "at", "source", "event_id", "reason"])
    return 0


def cmd_dead_show(args: argparse.Namespace) -> int:
    record = _pipeline().dead.get(args.id)
    if record is None:
        print(f"no dead letter {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        for key in ("id", "at", "source", "event_id", "field", "reason"):
            print(f"{key:>9}: {record.get(key, '')}")
        print(f"  payload:\n{record.get('payload', '')}")
    return 0


def cmd_dead_requeue(args: argparse.Namespace) -> int:
    from worker.intake import producer as intake
    from worker.intake.events import decode
    from worker.runtime.celery_app import app

    dead = _pipeline().dead
    record = dead.get(args.id)
    if record is None:
        print(f"no dead letter {args.id!r}", file=sys.stderr)
        return 1
    source = Path(args.from_file).read_text(encoding="utf-8") if args.from_file else record[
        "payload"]
    try:
        payload = decode(source)
    except InvalidEvent as exc:
        print(f"still invalid: {exc.reason}", file=sys.stderr)
        return 1
    reason = intake.check(intake.Item(0, payload))
    if reason:
        print(f"still invalid: {reason} (the dead letter is kept; fix it with --from-file)",
              file=sys.stderr)
        return 1
    intake.publish(app, payload)
    dead.drop(args.id)
    print(f"requeued {args.id} as event {payload['event_id']}")
    return 0


def cmd_dead_drop(args: argparse.Namespace) -> int:
    if not _pipeline().dead.drop(args.id):
        print(f"no dead letter {args.id!r}", file=sys.stderr)
        return 1
    print(f"dropped {args.id}")
    return 0


# -- dev, sweep ---------------------------------------------------------------------------
def cmd_dev(args: argparse.Namespace) -> int:
    from worker.runtime.dev import run

    return run(args.files, args.sample, args.keep_running, args.capture_dir, args.wait)


def cmd_sweep(args: argparse.Namespace) -> int:
    from worker.runtime.celery_app import app

    count = _pipeline().sweep(lambda nid: app.send_task("notices.send", args=[nid]))
    print(f"{count} due notice(s) handed to the workers")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("dev", help="run everything embedded (no Redis, no SMTP server)")
    p.add_argument("files", nargs="*", help="event files to publish (JSON, array or lines)")
    p.add_argument("--sample", action="store_true", help="publish the shipped sample events")
    p.add_argument("--keep-running", action="store_true", help="stay up after the batch")
    p.add_argument("--capture-dir", help="folder for captured mails (default var/captured)")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the batch")
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("publish", help="validate events and put the valid ones on the queue")
    p.add_argument("file", nargs="?", default="-", help="JSON object, array or lines; - = stdin")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("render", help="print one notice as it would be sent")
    p.add_argument("event_file")
    p.add_argument("--locale")
    p.add_argument("--format", choices=["subject", "text", "html", "eml"], default="eml")
    p.set_defaults(func=cmd_render)

    notices = sub.add_parser("notices", help="tracked notices").add_subparsers(
        dest="verb", required=True)
    p = notices.add_parser("list")
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_list)
    p = notices.add_parser("show")
    p.add_argument("id", help="notice id or event id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices_show)

    dead = sub.add_parser("dead", help="dead letters (invalid events)").add_subparsers(
        dest="verb", required=True)
    p = dead.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dead_list)
    p = dead.add_parser("show")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dead_show)
    p = dead.add_parser("requeue")
    p.add_argument("id")
    p.add_argument("--from-file", help="a corrected event to queue instead")
    p.set_defaults(func=cmd_dead_requeue)
    p = dead.add_parser("drop")
    p.add_argument("id")
    p.set_defaults(func=cmd_dead_drop)

    p = sub.add_parser("sweep", help="hand due retries to the workers now")
    p.set_defaults(func=cmd_sweep)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            # One broken part must not take every other command down with it.
            print(f"warning: commands of {name} unavailable: {exc}", file=sys.stderr)
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except RedisConnectionError as exc:
        print(f"error: the tracking store at {_redact(_settings().redis_url)} is not "
              f"reachable ({exc})", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
