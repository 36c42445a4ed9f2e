"""How each kind of setting is read from its text, with an error that names the variable."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.errors import ConfigurationError
from worker.net import is_loopback
from worker.settings.sentinel import is_sentinel, parse_sentinel_url

#: A parser: (the variable's text, the variable's name) -> the value.
Parser = Callable[[str, str], Any]


def text(value: str, name: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ConfigurationError(f"{name} must be one line")
    return value


def lines(value: str, name: str) -> str:
    """Multi-line text written with ``\\n`` between the lines."""
    return value.replace("\\n", "\n")


def boolean(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def integer(minimum: int = 0, maximum: int | None = None) -> Parser:
    def parse(value: str, name: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = (
                f"between {minimum} and {maximum}"
                if maximum is not None
                else (f"at least {minimum}")
            )
            raise ConfigurationError(f"{name} must be {bound}, not {number}")
        return number

    return parse


def number(minimum: float = 0.0) -> Parser:
    def parse(value: str, name: str) -> float:
        try:
            result = float(value.strip())
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, not {value!r}") from None
        if not result >= minimum or result == float("inf"):  # also refuses NaN
            raise ConfigurationError(f"{name} must be a number of at least {minimum}")
        return result

    return parse


def choice(*allowed: str, upper: bool = False) -> Parser:
    def parse(value: str, name: str) -> str:
        cleaned = value.strip().upper() if upper else value.strip().lower()
        if cleaned not in allowed:
            raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        return cleaned

    return parse


def delays(value: str, name: str) -> tuple[float, ...]:
    """Comma-separated seconds, e.g. ``"60,300,1800"``."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    try:
        result = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigurationError(f"{name} must be comma-separated seconds, not {value!r}") from None
    if any(not d >= 0 or d == float("inf") for d in result):
        raise ConfigurationError(f"{name} must not contain negative or endless delays")
    return result


def domain_rates(value: str, name: str) -> tuple[tuple[str, float], ...]:
    """``gmail.com=20,outlook.com=10``: mails per second per recipient domain."""
    found: list[tuple[str, float]] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        domain, eq, rate = part.partition("=")
        domain = domain.strip().lower()
        try:
            per_second = float(rate)
        except ValueError:
            per_second = -1.0
        if not eq or not _DOMAIN.fullmatch(domain) or not 0 < per_second < float("inf"):
            raise ConfigurationError(
                f"{name} takes domain=mails-per-second pairs such as gmail.com=20, not {part!r}"
            )
        found.append((domain, per_second))
    return tuple(found)


_DOMAIN: Final = re.compile(
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+"
)


def address(value: str, name: str) -> Address:
    display, addr = parseaddr(value)
    if "@" not in addr or any(c in value for c in "\r\n\0"):
        raise ConfigurationError(f"{name} must be an address like 'Billing <billing@example.com>'")
    local, _, domain = addr.rpartition("@")
    return Address(display_name=display, username=local, domain=domain)


def zone(value: str, name: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{name} must be an IANA time zone such as Asia/Taipei or UTC, not {value!r}"
        ) from None
    return value.strip()


#: A host name (``ops.example.com``), optionally ``*.``-prefixed, an IPv4 address or a
#: bracketed IPv6 address; never a port (every port of an allowed name is allowed).
_HOST_PATTERN: Final = re.compile(
    r"(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\]"
)


def hosts(value: str, name: str) -> tuple[str, ...]:
    """Comma-separated host names, e.g. ``ops.example.com,*.corp.example``."""
    found = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    if not found:
        raise ConfigurationError(f"{name} must name at least one host")
    for host in found:
        if not _HOST_PATTERN.fullmatch(host):
            raise ConfigurationError(
                f"{name} takes host names (optionally '*.example.com'; IPv6 in brackets; no "
                f"port, every port is allowed), not {host!r}"
            )
    return found


def _url_port(parts: Any, name: str) -> None:
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when it is read)
    except ValueError:
        raise ConfigurationError(f"{name} has an invalid port") from None


def redis_url(value: str, name: str) -> str:
    """A Redis URL (``redis://``, ``rediss://``, ``unix://``, ``sentinel://``) or
    ``memory://`` (an in-process store for the dev mode and tests)."""
    url = value.strip()
    if url.startswith("memory://"):
        return url
    if is_sentinel(url):
        try:
            parse_sentinel_url(url)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{name}: {exc}") from None
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix", "sentinel"):
        raise ConfigurationError(
            f"{name} must be a redis://, rediss://, unix:// or sentinel:// URL, not {url!r}"
            if "://" in url
            else f"{name} must be a URL such as redis://host:6379/0, not {url!r}"
        )
    _url_port(parts, name)
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ConfigurationError(f"{name} has no host")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ConfigurationError(f"{name}: the database must be a number, not {db!r}")
    return url


def broker_url(value: str, name: str) -> str:
    """A Redis URL (as REDIS_URL) or a RabbitMQ one (``amqp://``, ``amqps://``)."""
    url = value.strip()
    if urlsplit(url).scheme in ("amqp", "amqps", "pyamqp"):
        _url_port(urlsplit(url), name)
        return url
    return redis_url(url, name)


def smtp_url(value: str, name: str) -> str:
    """``smtp://``, ``smtp+starttls://`` or ``smtps://`` with a host (worker.smtp.target
    parses the rest)."""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("smtp", "smtp+starttls", "smtps"):
        raise ConfigurationError(
            f"{name} must be an smtp://, smtp+starttls:// or smtps:// URL, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{name} has no host")
    _url_port(parts, name)
    return url


_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")


def topic_arns(value: str, name: str) -> tuple[str, ...]:
    """Comma-separated SNS topic ARNs, e.g. ``arn:aws:sns:eu-west-1:123456789012:ses-events``."""
    found = tuple(a.strip() for a in value.split(",") if a.strip())
    for arn in found:
        if not _TOPIC_ARN.fullmatch(arn):
            raise ConfigurationError(f"{name} takes SNS topic ARNs (arn:aws:sns:…), not {arn!r}")
    return found


def base64_der(value: str, name: str) -> str:
    """A base64 text (a DER public key as the provider's settings page shows it)."""
    compact = "".join(value.split())
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"{name} must be base64 (the key as the provider shows it)"
        ) from None
    if not decoded:
        raise ConfigurationError(f"{name} must not be empty")
    return compact


def webhook_url(value: str, name: str) -> str:
    """An ``https://`` URL (``http://`` only to a loopback host: tests, a local relay)."""
    url = value.strip()
    parts = urlsplit(url)
    _url_port(parts, name)
    loopback = is_loopback(parts.hostname or "")
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ConfigurationError(
            f"{name} must be an https:// URL (http:// only to a loopback host), not {url!r}"
        )
    return url


def statuses(value: str, name: str) -> tuple[str, ...]:
    """Comma-separated status names (checked against the vocabulary where it is used)."""
    found = tuple(s.strip().lower() for s in value.split(",") if s.strip())
    if any(not s.replace("_", "").isalpha() for s in found):
        raise ConfigurationError(f"{name} takes comma-separated status names, not {value!r}")
    return found


_DURATION: Final = re.compile(r"(\d{1,6})([dhms])")
_UNIT_SECONDS: Final = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def duration(value: str, name: str) -> float:
    """``3d``, ``12h``, ``30m`` or ``45s``: seconds."""
    match = _DURATION.fullmatch(value.strip().lower())
    if not match:
        raise ConfigurationError(
            f"{name} takes a duration such as 3d, 12h, 30m or 45s, not {value!r}"
        )
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def durations(value: str, name: str) -> tuple[float, ...]:
    """Comma-separated durations, e.g. ``3d,7d``: increasing offsets in seconds."""
    found = tuple(duration(p, name) for p in value.split(",") if p.strip())
    if any(d <= 0 for d in found) or list(found) != sorted(set(found)):
        raise ConfigurationError(f"{name} must list increasing positive durations, not {value!r}")
    return found


_WINDOW: Final = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


def window(value: str, name: str) -> tuple[int, int]:
    """``08:00-21:00``: (start, end) in minutes after local midnight; start before end."""
    match = _WINDOW.fullmatch(value.strip())
    if not match:
        raise ConfigurationError(f"{name} takes a local time window such as 08:00-21:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not 0 <= start < end <= 24 * 60:
        raise ConfigurationError(f"{name} must start before it ends, within one day: {value!r}")
    return start, end
