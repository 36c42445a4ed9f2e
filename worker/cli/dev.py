"""``python -m worker dev``: the whole service embedded, and ``sweep``: hand due retries out."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from worker.cli.arguments import port_number, seconds_above_zero
from worker.cli.output import STORE, celery_app, pipeline
from worker.intake.producer import enqueue_send
from worker.net import check_free
from worker.web.server import make_server

#: The embedded pages listen on loopback only: the dev mode has no OPS_TOKEN to ask for.
DEV_HOST = "127.0.0.1"


def _pages(port: int) -> Any:
    """What ``dev --keep-running`` does once the batch has settled: serve the preview and
    ops pages on the embedded store (a separate ``web`` process could not see it)."""

    def serve(settings: Any, embedded: Any) -> None:
        from worker.web.app import create_app

        server = make_server(create_app(settings, embedded), DEV_HOST, port)
        threading.Thread(target=server.run, name="dev-pages", daemon=True).start()
        print(f"preview and ops pages on http://{DEV_HOST}:{port}/ (notices: /notices)")

    return serve


def cmd_dev(args: argparse.Namespace) -> int:
    # Lazy: the embedded mode configures the process before the Celery app is built.
    from worker.runtime.dev import run

    on_running = None
    if args.keep_running:
        check_free(DEV_HOST, args.port)  # a port in use: one line, before anything runs
        on_running = _pages(args.port)
    return run(args.files, args.sample, args.keep_running, args.capture_dir, args.wait, on_running)


def cmd_sweep(args: argparse.Namespace) -> int:
    app = celery_app()
    count = pipeline().sweep(lambda notice_id: enqueue_send(app, notice_id))
    print(f"{count} due notice(s) handed to the workers")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("dev", help="run everything embedded (no Redis, no SMTP server)")
    p.add_argument("files", nargs="*", help="event files to publish (JSON, array or lines)")
    p.add_argument("--sample", action="store_true", help="publish the shipped sample events")
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="stay up after the batch, serving the preview and ops pages on --port",
    )
    p.add_argument(
        "--port",
        type=port_number,
        default=8000,
        help="port of the pages with --keep-running (default 8000, on 127.0.0.1)",
    )
    p.add_argument("--capture-dir", help="folder for captured mails (default var/captured)")
    p.add_argument(
        "--wait", type=seconds_above_zero, default=60.0, help="seconds to wait for the batch"
    )
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("sweep", help="hand due retries to the workers now")
    p.set_defaults(func=cmd_sweep, needs=STORE)
