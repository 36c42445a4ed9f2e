"""The relay's address (SMTP_URL) and what its replies mean: transient, permanent, refused."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from worker.errors import (
    ConfigurationError,
    PermanentError,
    RecipientRefused,
    SMTPTimeout,
    SMTPUnavailable,
    TransientError,
)


class TLSMode(enum.StrEnum):
    OPPORTUNISTIC = "smtp"  #: STARTTLS when the server offers it, plain text otherwise
    STARTTLS = "smtp+starttls"  #: STARTTLS required; refuse to send without it
    IMPLICIT = "smtps"  #: TLS from the first byte (port 465)


class ReplyClass(enum.StrEnum):
    """RFC 5321 §4.2.1: the first digit of a reply code says what to do next."""

    SUCCESS = "2xx"  #: accepted
    TRANSIENT = "4xx"  #: try again later
    PERMANENT = "5xx"  #: do not try again as is
    NONE = "none"  #: no reply: the connection failed or timed out

    @classmethod
    def of(cls, code: int | None) -> ReplyClass:
        return {2: cls.SUCCESS, 4: cls.TRANSIENT, 5: cls.PERMANENT}.get(
            (code or 0) // 100, cls.NONE)


_DEFAULT_PORTS = {TLSMode.OPPORTUNISTIC: 25, TLSMode.STARTTLS: 587, TLSMode.IMPLICIT: 465}


@dataclass(frozen=True)
class SMTPTarget:
    host: str
    port: int
    mode: TLSMode
    username: str | None = None
    password: str | None = None

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __repr__(self) -> str:  # never print the password
        user = f"{self.username}:***@" if self.username else ""
        return f"SMTPTarget({self.mode.value}://{user}{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SMTPTarget:
    """``smtp://[user:pass@]host:port``, ``smtp+starttls://…`` or ``smtps://…``."""
    parts = urlsplit(url)
    try:
        mode = TLSMode(parts.scheme.lower())
    except ValueError:
        raise ConfigurationError(
            f"SMTP_URL scheme must be smtp, smtp+starttls or smtps, not {parts.scheme!r}"
        ) from None
    if not parts.hostname:
        raise ConfigurationError("SMTP_URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[mode]
    except ValueError:
        raise ConfigurationError("SMTP_URL has an invalid port") from None
    return SMTPTarget(
        host=parts.hostname, port=port, mode=mode,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def check_credentials_allowed(target: SMTPTarget, encrypted: bool, allow_plain: bool) -> None:
    """Refuse to send a password unencrypted across a network (loopback is fine)."""
    if target.username is not None and not encrypted and not target.is_loopback \
            and not allow_plain:
        raise ConfigurationError(
            f"refusing to send SMTP credentials in plain text to {target.host}: use "
            "smtp+starttls:// or smtps://, or set SMTP_ALLOW_PLAIN_AUTH=true")


@dataclass(frozen=True)
class Accepted:
    """The relay took the mail (250 after DATA)."""

    code: int
    message: str
    dsn: bool  #: whether DSN options (RFC 3461) were sent


def classify(exc: BaseException, phase: str) -> Exception:
    """Turn what aiosmtplib raised during ``phase`` into our error tree.

    Reply codes decide (4xx transient, 5xx permanent); only a 5xx at RCPT says the
    recipient bounced. Without a reply, a failure during DATA leaves the outcome unknown.
    """
    in_data = phase == "data"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ConfigurationError(f"SMTP authentication refused: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, text = exc.code, f"{exc.code} {exc.message}".strip()
        where = f"at {phase.upper()}: {text}"
        if ReplyClass.of(code) is ReplyClass.PERMANENT:
            if phase == "rcpt":
                return RecipientRefused(f"recipient refused {where}", code=code)
            return PermanentError(f"refused {where}", code=code)
        return TransientError(f"deferred {where}", code=code)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SMTPTimeout(f"timed out during {phase}", unknown_outcome=in_data)
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Not transient in spirit, but the notice is not at fault: keep it deferred while an
        # operator fixes the relay's certificate or SMTP_CA_FILE.
        return TransientError(f"TLS certificate not trusted: {exc.verify_message}")
    if isinstance(exc, (ConnectionError, OSError, aiosmtplib.SMTPException)):
        return SMTPUnavailable(f"connection failed during {phase}: {exc}", unknown_outcome=in_data)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))
