"""``python -m worker check``: is this configuration ready to send? Nothing is sent."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import aiosmtplib

from worker.cli.output import settings
from worker.errors import ConfigurationError, StoreUnavailable
from worker.net import redact_url
from worker.runtime.preflight import check_store, probe_relay, require

#: What the relay's EHLO answer is read for (each printed as offered or not).
EXTENSIONS = ("dsn", "pipelining", "size", "8bitmime", "smtputf8", "starttls", "auth")


def cmd_check(args: argparse.Namespace) -> int:
    """0: ready; 2: a configuration error; 3: Redis or the relay unreachable or refusing."""
    config = settings()
    require(config, secret=True, relay=True)  # ConfigurationError: main() says it, exit 2
    print("configuration: ok (SECRET_KEY set, SMTP_URL parses)")
    worst = 0
    try:
        for warning in check_store(config):
            print(f"  warning: {warning} (allowed by ALLOW_VOLATILE_REDIS)")
        print(f"tracking store: ok ({redact_url(config.redis_url)}, keeps its data)")
    except ConfigurationError as exc:
        print(f"tracking store: {exc}", file=sys.stderr)
        worst = 2
    except StoreUnavailable as exc:
        print(f"tracking store: {exc}", file=sys.stderr)
        worst = 3
    try:
        report = probe_relay(config)
    except ConfigurationError as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return max(worst, 2)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        print(
            f"relay: {redact_url(config.smtp_url)} is not reachable or refused: "
            f"{exc.__class__.__name__}: {exc}",
            file=sys.stderr,
        )
        return 3
    offered = ", ".join(
        f"{name.upper()}{'=' + report.extensions[name] if report.extensions.get(name) else ''}"
        for name in EXTENSIONS
        if report.offers(name)
    )
    print(f"relay: ok ({redact_url(config.smtp_url)}: {report.banner[:80]})")
    print(
        f"  TLS: {report.tls or 'none'}; authenticated: {'yes' if report.authenticated else 'no'}"
    )
    print(f"  offers: {offered or 'nothing beyond plain SMTP'}")
    if not report.offers("dsn"):
        print("  note: no DSN: delivery reports will not come back (bounces still do)")
    return worst


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="check the configuration, the store and the relay (nothing is sent)"
    )
    p.set_defaults(func=cmd_check)
