"""What the command line says when a command fails: one line on stderr and an exit code.

Every verb raises; ``main`` hands the exception here. A failure we know is said in our
words; anything else is a bug, said in one line too (``LOG_LEVEL=DEBUG`` logs the
traceback) rather than a traceback a user has to read.
"""

from __future__ import annotations

import errno
import logging

from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from worker.errors import ConfigurationError, StoreUnavailable
from worker.net import redact_url

log = logging.getLogger(__name__)

#: README "Command line": the exit codes.
REFUSED = 1  #: a refusal, something not found, or an unexpected error
USAGE = 2  #: a usage or configuration error (a wrong argument, a file that cannot be read)
UNREACHABLE = 3  #: the broker or the tracking store could not be reached
INTERRUPTED = 130  #: Ctrl-C
#: Whoever read our output went away (``| head``): said by nobody, as ``cat`` does.
PIPE_CLOSED = 141


def explain(exc: BaseException, redis_url: str, broker_url: str = "") -> tuple[str, int]:
    """The line to print (empty: print nothing) and the exit code for ``exc``."""
    if isinstance(exc, KombuOperationalError):
        return (
            f"error: the broker at {redact_url(broker_url)} is not reachable ({_line(exc)})",
            UNREACHABLE,
        )
    if isinstance(exc, ConfigurationError):
        return f"configuration error: {exc}", USAGE
    if isinstance(exc, StoreUnavailable):
        return f"error: {exc}", UNREACHABLE
    if isinstance(exc, RedisConnectionError):
        return (
            f"error: the tracking store at {redact_url(redis_url)} is not reachable ({exc})",
            UNREACHABLE,
        )
    if isinstance(exc, BrokenPipeError):
        return "", PIPE_CLOSED
    if isinstance(exc, KeyboardInterrupt):
        return "", INTERRUPTED
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"error: cannot listen: {_strerror(exc)}", USAGE
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return f"error: cannot read {exc.filename}: {_strerror(exc)}", USAGE
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"error: {exc.filename}: {_strerror(exc)}", USAGE
    if isinstance(exc, UnicodeDecodeError):
        return f"error: the input is not UTF-8 text ({exc.reason} at byte {exc.start})", USAGE
    if isinstance(exc, RedisError):
        return f"error: the tracking store refused a command ({_line(exc)})", UNREACHABLE
    log.debug("unexpected error", exc_info=exc)
    return (
        f"error: unexpected {exc.__class__.__name__}: {_line(exc)} "
        "(LOG_LEVEL=DEBUG logs the traceback)",
        REFUSED,
    )


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).strip().lower()


def _line(exc: BaseException) -> str:
    """The exception's message on one line, not too long to read."""
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "")
