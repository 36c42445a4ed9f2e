"""``python -m worker webhooks serve``: the provider webhook endpoints, served by waitress."""

from __future__ import annotations

import argparse
from typing import Any

from worker import logs
from worker.cli.arguments import port_number
from worker.cli.bounces import processor
from worker.cli.output import SIGNS, pipeline
from worker.cli.web import _serve
from worker.errors import ConfigurationError
from worker.webhooks.server import build_app, serve


def cmd_serve(args: argparse.Namespace) -> int:
    pipe = pipeline()
    config = pipe.settings
    logs.setup(config.log_level, config.log_format, secrets=config.secret_values())
    app, served = build_app(processor(pipe), config)
    if not served:
        raise ConfigurationError(
            "no provider is configured: set SES_TOPIC_ARNS, SENDGRID_WEBHOOK_PUBLIC_KEY, "
            "MAILGUN_WEBHOOK_SIGNING_KEY or POSTMARK_WEBHOOK_USER/POSTMARK_WEBHOOK_PASSWORD"
        )
    server = serve(app, config, args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    paths = ", ".join(f"/webhooks/{p}" for p in served)
    print(f"provider webhooks on http://{host}:{server.effective_port}: {paths}", flush=True)
    _serve(server)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "webhooks", help="provider webhooks (SES, SendGrid, Mailgun, Postmark)"
    )
    sub = p.add_subparsers(dest="webhooks_command", required=True, metavar="VERB")
    s = sub.add_parser("serve", help="serve POST /webhooks/<provider> for the configured providers")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=port_number, default=8030, help="port (default 8030)")
    s.set_defaults(func=cmd_serve, needs=SIGNS)
