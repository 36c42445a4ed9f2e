"""``python -m worker dev``: the whole service embedded, and ``sweep``: hand due retries out."""

from __future__ import annotations

import argparse
from typing import Any

from worker.cli.arguments import seconds_above_zero
from worker.cli.output import STORE, celery_app, pipeline
from worker.intake.producer import enqueue_send


def cmd_dev(args: argparse.Namespace) -> int:
    # Lazy: the embedded mode configures the process before the Celery app is built.
    from worker.runtime.dev import run

    return run(args.files, args.sample, args.keep_running, args.capture_dir, args.wait)


def cmd_sweep(args: argparse.Namespace) -> int:
    app = celery_app()
    count = pipeline().sweep(lambda notice_id: enqueue_send(app, notice_id))
    print(f"{count} due notice(s) handed to the workers")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("dev", help="run everything embedded (no Redis, no SMTP server)")
    p.add_argument("files", nargs="*", help="event files to publish (JSON, array or lines)")
    p.add_argument("--sample", action="store_true", help="publish the shipped sample events")
    p.add_argument("--keep-running", action="store_true", help="stay up after the batch")
    p.add_argument("--capture-dir", help="folder for captured mails (default var/captured)")
    p.add_argument(
        "--wait", type=seconds_above_zero, default=60.0, help="seconds to wait for the batch"
    )
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("sweep", help="hand due retries to the workers now")
    p.set_defaults(func=cmd_sweep, needs=STORE)
