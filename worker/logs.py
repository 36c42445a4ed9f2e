"""Structured logs: JSON lines carrying the notice and event ids, addresses masked."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote

from worker.intake import cards
from worker.intake.addresses import mask

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None
)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
#: ``?token=…`` / ``&token=…`` in a URL anywhere in a line: the ops token's login form.
_TOKEN_PARAM = re.compile(r"(?i)([?&;]token=)[^&;#\s\"']*")
#: Query parameters whose value is a secret: replaced by *** whole.
SECRET_PARAMS = frozenset({"token"})
#: Query parameters whose value is (part of) an address: the ops filters and forms.
ADDRESS_PARAMS = frozenset({"address", "to"})


def mask_addresses(text: str) -> str:
    """Every address in ``text`` masked (``a***@example.com``), nothing else changed."""
    return _ADDRESS.sub(lambda m: mask(m.group()), text)


def scrub(text: str) -> str:
    """Mask addresses, ``token=`` URL parameters and card-number-shaped digit runs."""
    text = cards.remove(text)
    text = _TOKEN_PARAM.sub(r"\1***", text)
    return mask_addresses(text)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` replaced by ***."""
    # Longest first: a secret that contains another is masked whole, not around it.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _log_safe(text: str, secrets: Iterable[str]) -> str:
    """One decoded URL part, masked, then percent-encoded again (``@`` too): a log line
    never holds an address, a control character or a line break from a request."""
    return quote(scrub(mask_secrets(text, secrets)), safe="*")


def redact_query(query: str, secrets: Iterable[str] = ()) -> str:
    """A query string fit for a log: ``token`` → ***, address parameters masked
    (``a***@example.com``), every one of ``secrets`` → ***, nothing else changed."""
    kept = list(secrets)
    pairs = []
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if name.lower() in SECRET_PARAMS:
            value = "***"
        elif name.lower() in ADDRESS_PARAMS and value:
            value = mask(mask_secrets(value, kept))
        pairs.append(f"{_log_safe(name, kept)}={_log_safe(value, kept)}")
    return "&".join(pairs)


def redact_path(path: str, secrets: Iterable[str] = ()) -> str:
    """A URL path fit for a log: each segment masked as in ``redact_query``."""
    kept = list(secrets)
    return "/".join(_log_safe(segment, kept) for segment in path.split("/"))


@contextlib.contextmanager
def bind(**values: str | None) -> Iterator[None]:
    """Attach ids (notice_id, event_id...) to every log line written inside the block."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in values.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class _Masking(logging.Formatter):
    """The formatters' share: the process's configured secrets, masked in every line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def mask(self, text: str) -> str:
        return scrub(mask_secrets(text, self.secrets))


class JSONFormatter(_Masking):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.mask(record.getMessage()),
            **(_context.get() or {}),
        }
        for name in ("notice_id", "event_id", "status", "smtp_code", "attempt"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(_Masking):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in (_context.get() or {}).items())
        return self.mask(
            f"{record.levelname:<7} {record.name}: {record.getMessage()}"
            + (f" [{ids}]" if ids else "")
            + (("\n" + self.formatException(record.exc_info)) if record.exc_info else "")
        )


def setup(
    level: str = "INFO", fmt: str = "json", stream: Any = None, secrets: Iterable[str] = ()
) -> None:
    """Every line of this process to ``stream`` through the masking formatter; ``secrets``
    (the settings' passwords, keys and tokens) are masked wherever they appear."""
    handler = logging.StreamHandler(stream or sys.stderr)
    masked = tuple(secrets)
    handler.setFormatter(JSONFormatter(masked) if fmt == "json" else TextFormatter(masked))
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
