"""``python -m worker bounces serve|ingest|parse|unmatched``: reports coming back."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from worker.bounces.batch import Progress, Tally, count_messages
from worker.bounces.ingest import BounceProcessor, read_messages
from worker.bounces.parse import parse_bytes
from worker.bounces.server import make_server, spool_dir
from worker.bounces.spool import Spool
from worker.bounces.tieback import TieBack
from worker.cli.arguments import port_number
from worker.cli.output import SIGNS, STORE, emit, pipeline, settings
from worker.intake.addresses import mask
from worker.net import check_free
from worker.notices.pipeline import Pipeline


def processor(pipe: Pipeline) -> BounceProcessor:
    config = pipe.settings
    spool = Spool(spool_dir(config), config.bounce_spool_days)
    return BounceProcessor(pipe.tracker, pipe.suppressions, config, spool)


def cmd_serve(args: argparse.Namespace) -> int:
    pipe = pipeline()
    config = pipe.settings
    config.require_secret()
    reports = processor(pipe)
    if reports.spool is not None:
        reports.spool.prune()
    check_free(args.host, args.port)  # a port in use: one line, exit code 2
    server = make_server(reports, config, args.host, args.port)
    server.start()
    print(
        f"taking bounces for @{config.envelope_base.domain} on "
        f"{args.host}:{server.port}; Ctrl-C to stop",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    reports = processor(pipeline())
    total = count_messages(args.path)
    bar = sys.stderr.isatty()
    progress = Progress(sys.stderr, total, bar=bar, every=args.every)
    # The bar and the report lines share a terminal only when stdout is one too.
    shared = bar and not args.quiet and sys.stdout.isatty()
    tally = Tally()
    # Every report's fate is on stdout (and in the summary): a "not applied" warning for
    # each of them on stderr as well would bury the progress and the summary.
    quiet_logs = [
        logging.getLogger(n) for n in ("worker.bounces.ingest", "worker.notices.suppressions")
    ]
    levels = [q.level for q in quiet_logs]
    for q in quiet_logs:
        q.setLevel(logging.ERROR)
    started = time.monotonic()
    try:
        for name, data in read_messages(args.path, sys.stdin):
            results = reports.process(data, source=name)
            tally.messages += 1
            if not results:
                tally.add("not a bounce")
            lines: list[str] = []
            for result in results:
                complaint = result.report.action == "complaint"
                tied = result.effect not in ("unmatched", "forged")
                tally.add("complaint" if complaint and tied else result.effect)
                if not args.quiet:
                    lines.append(
                        f"{name}: {mask(result.report.recipient)} {result.report.action} "
                        f"{result.report.status or '-'} {result.report.reason} → {result.effect}"
                        + (
                            f" (notice {result.notice_id} by {result.matched_by})"
                            if result.notice_id
                            else ""
                        )
                    )
            if lines:
                if shared:
                    progress.clear()
                print("\n".join(lines), flush=shared)
            progress.update(tally.messages)
    finally:
        for q, old in zip(quiet_logs, levels, strict=True):
            q.setLevel(old)
        progress.finish()
    print(tally.summary(time.monotonic() - started), file=sys.stderr)
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    # A notice id is printed only when the message proves it (a value we signed): parsing
    # needs no store.
    tie = TieBack(None, settings())
    for _name, data in read_messages(args.file, sys.stdin):
        parsed = parse_bytes(data)
        notice_id = tie.find(parsed).notice_id
        for report in parsed.reports:
            row = report.to_json(notice_id)
            if args.json:
                print(json.dumps(row, ensure_ascii=False))
            else:
                print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def cmd_unmatched(args: argparse.Namespace) -> int:
    rows = processor(pipeline()).unmatched()
    emit(rows, args.json, ["at", "why", "recipient", "action", "status", "reason"])
    return 0


def register(sub: Any) -> None:
    bounces = sub.add_parser("bounces", help="bounces and DSNs").add_subparsers(
        dest="verb", required=True
    )
    p = bounces.add_parser("serve", help="inbound SMTP endpoint for bounces")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=2525)
    p.set_defaults(func=cmd_serve, needs=SIGNS)
    p = bounces.add_parser("ingest", help="process .eml files, a folder, Maildir, mbox or -")
    p.add_argument("path")
    p.add_argument("--quiet", action="store_true", help="no line per report, only the summary")
    p.add_argument(
        "--every",
        type=int,
        default=1000,
        metavar="N",
        help="when stderr is no terminal, a count line every N messages (0: none)",
    )
    p.set_defaults(func=cmd_ingest, needs=SIGNS)
    p = bounces.add_parser("parse", help="parse only; change nothing")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_parse)
    p = bounces.add_parser("unmatched", help="bounces that could not be tied to a notice")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unmatched, needs=STORE)
