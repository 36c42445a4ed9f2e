"""Structured logs: JSON lines carrying the notice and event ids, addresses masked."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

from worker.intake import cards
from worker.intake.addresses import mask

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None
)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def scrub(text: str) -> str:
    """Mask addresses and card-number-shaped digit runs in free text."""
    text = cards.remove(text)
    return _ADDRESS.sub(lambda m: mask(m.group()), text)


@contextlib.contextmanager
def bind(**values: str | None) -> Iterator[None]:
    """Attach ids (notice_id, event_id...) to every log line written inside the block."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in values.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
            **(_context.get() or {}),
        }
        for name in ("notice_id", "event_id", "status", "smtp_code", "attempt"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in (_context.get() or {}).items())
        return scrub(
            f"{record.levelname:<7} {record.name}: {record.getMessage()}"
            + (f" [{ids}]" if ids else "")
            + (("\n" + self.formatException(record.exc_info)) if record.exc_info else "")
        )


def setup(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_pdn", False):
            root.removeHandler(old)
    handler._pdn = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter that would otherwise print addresses and SMTP dialogue, and
    # Celery's two lines per task ("received", "succeeded"), which our own notice lines
    # (with the ids) make redundant and which cost as much CPU as the rest of the logging.
    for noisy in (
        "aiosmtplib",
        "mail.log",
        "mail.debug",
        "cssutils",
        "premailer",
        "celery.app.trace",
        "celery.worker.strategy",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
