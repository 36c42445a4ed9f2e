"""``python -m worker preview`` / ``web``: serve the preview and ops pages."""

from __future__ import annotations

import argparse
from typing import Any

from worker.settings import get_settings
from worker.web.app import create_app
from worker.web.security import check_bind


def cmd_web(args: argparse.Namespace) -> int:
    settings = get_settings()
    check_bind(args.host, settings.ops_token)  # ConfigurationError → exit code 2
    app = create_app(settings)
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
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
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
        p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
        p.set_defaults(func=cmd_web)
