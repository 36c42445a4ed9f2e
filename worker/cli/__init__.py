"""``python -m worker …``: the command line (argparse only; each verb lives in its module)."""

from __future__ import annotations

import argparse
import sys

from redis.exceptions import ConnectionError as RedisConnectionError

from worker import logs
from worker.cli import (
    bounces,
    check,
    dead,
    dev,
    notices,
    publish,
    render,
    replay,
    suppressions,
    web,
    webhooks,
)
from worker.cli.output import Needs, emit, settings
from worker.errors import ConfigurationError, StoreUnavailable
from worker.net import redact_url
from worker.runtime.preflight import check_store, require

__all__ = ["build_parser", "emit", "main"]

#: The verb modules, in the order `--help` lists them; each has ``register(subparsers)``.
VERBS = (
    dev,
    publish,
    render,
    notices,
    replay,
    dead,
    bounces,
    webhooks,
    suppressions,
    web,
    check,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m worker", description="Email notification worker for past-due payments."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in VERBS:
        module.register(sub)
    return parser


def preflight(needs: Needs) -> None:
    """Check what the command needs before it runs (raises; ``main`` says it in one line)."""
    config = settings()  # every variable is parsed here: a wrong one stops us now
    logs.setup(config.log_level, config.log_format, secrets=config.secret_values())
    require(config, secret=needs.secret)
    if needs.store:
        for warning in check_store(config):
            print(f"warning: {warning} (allowed by ALLOW_VOLATILE_REDIS)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        preflight(getattr(args, "needs", Needs()))
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except RedisConnectionError as exc:
        print(
            f"error: the tracking store at {redact_url(settings().redis_url)} is not "
            f"reachable ({exc})",
            file=sys.stderr,
        )
        return 3
    except KeyboardInterrupt:
        return 130
