"""``python -m worker preview`` / ``web``: serve the preview and ops pages with waitress."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import Any

from worker import logs
from worker.cli.arguments import port_number
from worker.errors import StoreUnavailable
from worker.net import is_loopback
from worker.runtime.preflight import check_store
from worker.settings import Settings, get_settings
from worker.web.app import create_app
from worker.web.security import check_bind, secrets_of
from worker.web.server import Server, make_server

log = logging.getLogger(__name__)


def _stop(signum: int, frame: FrameType | None) -> None:
    # waitress's run() catches SystemExit and lets the requests in flight finish.
    raise SystemExit(0)


def _serve(server: Server) -> None:
    """Run ``server`` until Ctrl-C or SIGTERM (docker stop, systemd), both a clean stop."""
    if threading.current_thread() is not threading.main_thread():
        server.run()
        return
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_web(args: argparse.Namespace) -> int:
    settings = get_settings()
    check_bind(args.host, settings.ops_token)  # ConfigurationError → exit code 2
    # Every line of this process (ours, Flask's, waitress's) through the masking formatter.
    logs.setup(settings.log_level, settings.log_format, secrets=secrets_of(settings))
    try:
        for warning in check_store(settings):
            log.warning("%s (allowed by ALLOW_VOLATILE_REDIS)", warning)
    except StoreUnavailable as exc:
        # The previews need no store; the ops pages say it is away until it answers.
        log.warning("%s: the ops pages wait for it, the previews work", exc)
    server = make_server(create_app(settings), args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"preview and ops pages on http://{host}:{args.port}/"
        + (
            "  (send the OPS_TOKEN: Authorization: Bearer …, or ?token=… once)"
            if settings.ops_token
            else ""
        ),
        flush=True,
    )
    if not is_loopback(args.host) and settings.web_allowed_hosts == Settings().web_allowed_hosts:
        log.warning(
            "WEB_ALLOWED_HOSTS is not set: only requests for localhost, 127.0.0.1 and [::1] "
            "are answered; set it to the names the pages are browsed at"
        )
    _serve(server)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``preview`` verb and its alias ``web``."""
    for name, text in (
        ("preview", "serve the template previews and the ops pages"),
        ("web", "the same as preview"),
    ):
        p = subparsers.add_parser(name, help=text)
        p.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on (default 127.0.0.1; anything but loopback "
            "requires OPS_TOKEN)",
        )
        p.add_argument("--port", type=port_number, default=8000, help="port (default 8000)")
        p.set_defaults(func=cmd_web)
