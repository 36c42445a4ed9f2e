"""``python -m worker bounces …`` and ``python -m worker suppressions …``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from worker.intake.addresses import mask


def _pipeline() -> Any:
    from worker.notices.pipeline import get_pipeline
    from worker.settings import get_settings

    return get_pipeline(get_settings())


def cmd_serve(args: argparse.Namespace) -> int:
    from worker.bounces.ingest import BounceProcessor
    from worker.bounces.server import make_server, spool_dir

    pipeline = _pipeline()
    settings = pipeline.settings
    settings.require_secret()
    processor = BounceProcessor(pipeline, spool_dir(settings))
    server = make_server(processor, settings, args.host, args.port)
    server.start()
    print(f"taking bounces for @{settings.envelope_base.domain} on "
          f"{args.host}:{server.port}; Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from worker.bounces.ingest import BounceProcessor, read_messages
    from worker.bounces.server import spool_dir

    pipeline = _pipeline()
    processor = BounceProcessor(pipeline, spool_dir(pipeline.settings))
    totals: dict[str, int] = {}
    messages = 0
    for name, data in read_messages(args.path, sys.stdin):
        messages += 1
        for result in processor.process(data, source=name):
            totals[result.effect] = totals.get(result.effect, 0) + 1
            print(f"{name}: {mask(result.report.recipient)} {result.report.action} "
                  f"{result.report.status or '-'} {result.report.reason} → {result.effect}"
                  + (f" (notice {result.notice_id} by {result.matched_by})"
                     if result.notice_id else ""))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "no reports"
    print(f"{messages} message(s): {summary}", file=sys.stderr)
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from worker.bounces.ingest import TieBack, read_messages
    from worker.bounces.parse import parse_bytes

    tie: TieBack | None = None
    try:
        pipeline = _pipeline()
        pipeline.r.ping()
        tie = TieBack(pipeline)  # finding a notice only reads the store
    except Exception:  # parse works without the store; only tie-back needs it
        tie = None
    for _name, data in read_messages(args.file, sys.stdin):
        parsed = parse_bytes(data)
        for report in parsed.reports:
            notice_id = None
            if tie is not None:
                found, how = tie.find(parsed, report)
                notice_id = found if found and how != "forged" else None
            else:
                from worker.settings import get_settings
                from worker.smtp.returnpath import verify

                notice_id = next((n for a in parsed.returned_to
                                  if (n := verify(a, get_settings()))), None)
            row = report.to_json(notice_id)
            if args.json:
                print(json.dumps(row, ensure_ascii=False))
            else:
                print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def cmd_unmatched(args: argparse.Namespace) -> int:
    from worker.bounces.ingest import BounceProcessor
    from worker.cli import emit

    rows = BounceProcessor(_pipeline()).unmatched()
    emit(rows, args.json, ["at", "why", "recipient", "action", "status", "reason"])
    return 0


def cmd_suppressions_list(args: argparse.Namespace) -> int:
    from worker.cli import emit

    emit(_pipeline().suppressions.list(), args.json,
         ["address", "reason", "status", "kind", "notice_id", "at"])
    return 0


def cmd_suppressions_remove(args: argparse.Namespace) -> int:
    if not _pipeline().suppressions.remove(args.address):
        print(f"{args.address} is not on the suppression list", file=sys.stderr)
        return 1
    print(f"removed {args.address}")
    return 0


def register(sub: Any) -> None:
    bounces = sub.add_parser("bounces", help="bounces and DSNs").add_subparsers(
        dest="verb", required=True)
    p = bounces.add_parser("serve", help="inbound SMTP endpoint for bounces")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525)
    p.set_defaults(func=cmd_serve)
    p = bounces.add_parser("ingest", help="process .eml files, a folder, Maildir, mbox or -")
    p.add_argument("path")
    p.set_defaults(func=cmd_ingest)
    p = bounces.add_parser("parse", help="parse only; change nothing")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_parse)
    p = bounces.add_parser("unmatched", help="bounces that could not be tied to a notice")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unmatched)

    sup = sub.add_parser("suppressions", help="addresses not mailed").add_subparsers(
        dest="verb", required=True)
    p = sup.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_suppressions_list)
    p = sup.add_parser("remove")
    p.add_argument("address")
    p.set_defaults(func=cmd_suppressions_remove)
