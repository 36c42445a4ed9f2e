"""``python -m worker publish``: validate events and put the valid ones on the queue."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.output import celery_app, read_input, settings
from worker.errors import InvalidEvent
from worker.intake import producer
from worker.intake.cards import redact
from worker.net import redact_url
from worker.notices.record import notice_id_for


def shown_id(payload: Any) -> str:
    """The event's id as a line may show it (" evt-1" when it has one, else "")."""
    value = payload.get("event_id") if isinstance(payload, dict) else None
    if not isinstance(value, str) or not value:
        return ""
    # Masked (an id can hold a card number) and quoted when it is not plain text.
    text = redact(value[:64])
    return f" {text}" if text.isprintable() and text == text.strip() else f" {text!r}"


def cmd_publish(args: argparse.Namespace) -> int:
    items = list(producer.read_events(read_input(args.file)))
    invalid = 0
    queued = 0
    app = celery_app()
    for item in items:
        try:
            event = producer.validate(item)
        except InvalidEvent as exc:
            invalid += 1
            print(
                f"invalid event #{item.index}{shown_id(item.payload)}: {exc.reason}",
                file=sys.stderr,
            )
            continue
        try:
            producer.publish(app, item.payload)
        except Exception as exc:
            url = settings().effective_broker_url
            print(
                f"error: could not queue event #{item.index}{shown_id(item.payload)}: the "
                f"broker at {redact_url(url)} is not reachable "
                f"({exc.__class__.__name__}: {exc}); {queued} queued before it",
                file=sys.stderr,
            )
            return 3
        queued += 1
        # The notice id the worker will use: computed from the validated event's id.
        kind = producer.task_for(item.payload)
        what = f"notice {notice_id_for(event.event_id)}" if kind == producer.CHARGE_FAILED else kind
        print(f"queued event #{item.index} {event.event_id} ({what})")
    print(f"{queued} queued, {invalid} invalid", file=sys.stderr)
    return 1 if invalid else 0


def register(sub: Any) -> None:
    p = sub.add_parser("publish", help="validate events and put the valid ones on the queue")
    p.add_argument("file", nargs="?", default="-", help="JSON object, array or lines; - = stdin")
    p.set_defaults(func=cmd_publish)
