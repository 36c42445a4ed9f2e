"""``python -m worker …``: the command line (argparse only; each verb lives in its module)."""

from __future__ import annotations

import argparse
import sys

from redis.exceptions import ConnectionError as RedisConnectionError

from worker.cli import bounces, dead, dev, notices, publish, render, replay, suppressions, web
from worker.cli.output import emit, settings
from worker.errors import ConfigurationError
from worker.net import redact_url

__all__ = ["build_parser", "emit", "main"]

#: The verb modules, in the order `--help` lists them; each has ``register(subparsers)``.
VERBS = (dev, publish, render, notices, replay, dead, bounces, suppressions, web)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m worker", description="Email notification worker for past-due payments."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in VERBS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except RedisConnectionError as exc:
        print(
            f"error: the tracking store at {redact_url(settings().redis_url)} is not "
            f"reachable ({exc})",
            file=sys.stderr,
        )
        return 3
    except KeyboardInterrupt:
        return 130
