"""``python -m worker …``: the command line (argparse only; each verb lives in its module)."""

from __future__ import annotations

import argparse
import os
import sys

from worker import logs
from worker.cli import (
    bounces,
    check,
    dead,
    dev,
    failures,
    notices,
    publish,
    render,
    replay,
    suppressions,
    web,
    webhooks,
)
from worker.cli.arguments import OneLineParser
from worker.cli.output import Needs, emit, settings
from worker.errors import ConfigurationError
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
    parser = OneLineParser(
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
        code = int(args.func(args))
        sys.stdout.flush()  # here, so that a reader gone away (| head) is ours to say
        return code
    except Exception as exc:
        return _fail(exc)
    except KeyboardInterrupt as exc:
        return _fail(exc)


def _fail(exc: BaseException) -> int:
    """Say ``exc`` in one line on stderr (README "Command line") and return the exit code."""
    try:
        redis_url, broker_url = settings().redis_url, settings().effective_broker_url
    except ConfigurationError:
        redis_url = broker_url = ""
    line, code = failures.explain(exc, redis_url, broker_url)
    if isinstance(exc, BrokenPipeError):
        # Nothing more can go to the closed pipe; Python's own flush at exit would fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if line:
        print(line, file=sys.stderr)
    return code
