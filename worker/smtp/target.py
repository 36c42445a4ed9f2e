"""The relay's address (SMTP_URL): host, port, TLS mode, credentials and when to send them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from worker.errors import ConfigurationError
from worker.net import is_loopback


class TLSMode(enum.StrEnum):
    OPPORTUNISTIC = "smtp"  #: STARTTLS when the server offers it, plain text otherwise
    STARTTLS = "smtp+starttls"  #: STARTTLS required; refuse to send without it
    IMPLICIT = "smtps"  #: TLS from the first byte (port 465)


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
        return is_loopback(self.host)

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
        host=parts.hostname,
        port=port,
        mode=mode,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def check_credentials_allowed(target: SMTPTarget, encrypted: bool, allow_plain: bool) -> None:
    """Refuse to send a password unencrypted across a network (loopback is fine)."""
    if target.username is not None and not encrypted and not target.is_loopback and not allow_plain:
        raise ConfigurationError(
            f"refusing to send SMTP credentials in plain text to {target.host}: use "
            "smtp+starttls:// or smtps://, or set SMTP_ALLOW_PLAIN_AUTH=true"
        )
