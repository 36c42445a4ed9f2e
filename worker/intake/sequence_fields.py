"""Validators for the optional sequence fields of an event: invoice, attempt, links, zone."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.errors import InvalidEvent

#: A per-customer link is a hosted-invoice or payment-method page: long query strings are
#: common (signed tokens), but a link past this is a misplaced field, not a link.
MAX_URL_CHARS: Final = 2048
MAX_ATTEMPT: Final = 1000
MAX_ZONE_CHARS: Final = 64
_HOST: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def payment_url(payload: dict[str, Any]) -> str | None:
    """An https link with a host name, no spaces or control characters, no credentials."""
    value = payload.get("payment_url")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent("payment_url", f"must be a string, not {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_URL_CHARS:
        raise InvalidEvent("payment_url", f"is longer than {MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise InvalidEvent("payment_url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        raise InvalidEvent("payment_url", "is not a valid URL") from None
    if parts.scheme.lower() != "https":
        raise InvalidEvent("payment_url", "must be an https:// URL")
    if not host or not _HOST.fullmatch(host) or "." not in host:
        raise InvalidEvent("payment_url", "must name a host, e.g. https://pay.example.com/…")
    if parts.username is not None or parts.password is not None:
        raise InvalidEvent("payment_url", "must not carry a user name or password")
    return text


def attempt(payload: dict[str, Any]) -> int | None:
    """The billing system's attempt number: 1, 2, … (a JSON integer)."""
    value = payload.get("attempt")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent("attempt", "must be a whole number (1, 2, …)")
    if not 1 <= value <= MAX_ATTEMPT:
        raise InvalidEvent("attempt", f"must be between 1 and {MAX_ATTEMPT}")
    return value


def timezone(payload: dict[str, Any]) -> str | None:
    """The recipient's IANA time zone, e.g. Asia/Taipei."""
    value = payload.get("timezone")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ZONE_CHARS:
        raise InvalidEvent("timezone", "must be an IANA time zone name such as Asia/Taipei")
    text = value.strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidEvent(
            "timezone", f"must be an IANA time zone name such as Asia/Taipei, not {text[:40]!r}"
        ) from None
    return text
