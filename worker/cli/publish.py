"""``python -m worker publish``: validate events and put the valid ones on the queue."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.output import celery_app, read_input, settings
from worker.intake import producer
from worker.net import redact_url
from worker.notices.record import notice_id_for


def cmd_publish(args: argparse.Namespace) -> int:
    items = list(producer.read_events(read_input(args.file)))
    invalid = 0
    queued = 0
    app = celery_app()
    for item in items:
        reason = producer.check(item)
        if reason:
            invalid += 1
            print(f"invalid event #{item.index}: {reason}", file=sys.stderr)
            continue
        try:
            producer.publish(app, item.payload)
        except Exception as exc:
            url = settings().effective_broker_url
            print(
                f"error: could not queue event #{item.index} "
                f"({item.payload.get('event_id')}): the broker at {redact_url(url)} is not "
                f"reachable ({exc.__class__.__name__}: {exc}); {queued} queued before it",
                file=sys.stderr,
            )
            return 3
        queued += 1
        print(
            f"queued event #{item.index} {item.payload['event_id']} "
            f"(notice {notice_id_for(item.payload['event_id'])})"
        )
    print(f"{queued} queued, {invalid} invalid", file=sys.stderr)
    return 1 if invalid else 0


def register(sub: Any) -> None:
    p = sub.add_parser("publish", help="validate events and put the valid ones on the queue")
    p.add_argument("file", nargs="?", default="-", help="JSON object, array or lines; - = stdin")
    p.set_defaults(func=cmd_publish)
