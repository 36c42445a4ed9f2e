"""Argument parsing that fails in one line, and the ``type=`` checks the verbs share."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import NoReturn

from worker.errors import InvalidEvent
from worker.intake.addresses import normalize_address
from worker.notices.status import Status

#: The exit code of a usage error (argparse's own, and README's).
USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit code 2).

    argparse's own error prints the whole usage block first; with several verbs that
    buries the one sentence that says what was wrong. ``--help`` still shows the usage.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def port_number(text: str) -> int:
    """``--port``: a TCP port, 1-65535 (anything else is a usage error, exit code 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, not {port}")
    return port


def iso_time(text: str) -> float:
    """``--since`` / ``--until``: an ISO 8601 time (local time when it has no offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (for example 2026-11-25T09:00)"
        ) from None
    return moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp()


def seconds_above_zero(text: str) -> float:
    """``--wait``: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a number of seconds above 0, not {text}")
    return value


def address(text: str) -> str:
    """``--to`` and the like: one email address, as an event's ``admin_email`` would be."""
    try:
        return normalize_address(text, "")
    except InvalidEvent as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


#: ``--status`` of ``notices list``: the status names.
STATUS_NAMES = [str(s) for s in Status]


def status_name(text: str) -> str:
    """``--status``: one of the notice statuses (README "Notice states")."""
    if text not in STATUS_NAMES:
        raise argparse.ArgumentTypeError(f"no status {text!r} (one of {', '.join(STATUS_NAMES)})")
    return text
