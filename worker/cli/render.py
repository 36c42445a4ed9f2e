"""``python -m worker render``: print one notice exactly as it would be sent."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.output import read_input, settings
from worker.errors import InvalidEvent
from worker.intake.events import decode, parse_event
from worker.notices.record import notice_id_for
from worker.render.i18n import LANG_TAGS
from worker.render.message import message_bytes
from worker.render.renderer import Renderer


def cmd_render(args: argparse.Namespace) -> int:
    config = settings()
    data = read_input(args.event_file)
    try:
        event = parse_event(decode(data))
    except InvalidEvent as exc:
        print(f"invalid event: {exc.reason}", file=sys.stderr)
        return 1
    rendered = Renderer(config).render(event, args.locale)
    asked = args.locale if args.locale is not None else event.locale
    if asked and asked.replace("-", "_") != rendered.locale:
        # A locale we have no translation for falls back: say which one was used.
        print(
            f"note: locale {asked!r} rendered as {rendered.lang} (the locales: "
            f"{', '.join(LANG_TAGS.values())})",
            file=sys.stderr,
        )
    if args.format == "subject":
        print(rendered.subject)
    elif args.format == "text":
        sys.stdout.write(rendered.text)
    elif args.format == "html":
        print(rendered.html)
    else:
        sys.stdout.buffer.write(
            message_bytes(
                rendered,
                to=event.admin_email,
                notice_id=notice_id_for(event.event_id),
                generation=0,
                settings=config,
            )
        )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("render", help="print one notice as it would be sent")
    p.add_argument("event_file")
    p.add_argument("--locale")
    p.add_argument("--format", choices=["subject", "text", "html", "eml"], default="eml")
    p.set_defaults(func=cmd_render)
