"""The only reader of the environment: one frozen settings object."""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from worker.errors import ConfigurationError

#: Production retry schedule (seconds between attempts). RFC 5321 §4.5.4.1 asks for at
#: least 30 minutes between retries once the first few fail and for giving up after
#: 4-5 days; this starts faster (a relay hiccup usually clears within minutes) and
#: sums to about 4.2 days.
DEFAULT_RETRY_DELAYS = (300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400, 86400)


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return number


def _float(value: str, name: str, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {value!r}") from None
    if number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return number


def parse_delays(value: str) -> tuple[float, ...]:
    """Parse SEND_RETRY_DELAYS: comma-separated seconds, e.g. ``"60,300,1800"``."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    try:
        delays = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigurationError(
            f"SEND_RETRY_DELAYS must be comma-separated seconds, not {value!r}"
        ) from None
    if any(d < 0 for d in delays):
        raise ConfigurationError("SEND_RETRY_DELAYS must not contain negative delays")
    return delays


#: A host name (``ops.example.com``), optionally ``*.``-prefixed, an IPv4 address or a
#: bracketed IPv6 address; never a port (every port of an allowed name is allowed).
_HOST_PATTERN = re.compile(
    r"(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\]"
)


def parse_hosts(value: str) -> tuple[str, ...]:
    """Parse WEB_ALLOWED_HOSTS: comma-separated host names, e.g. ``ops.example.com,*.corp``."""
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    if not hosts:
        raise ConfigurationError("WEB_ALLOWED_HOSTS must name at least one host")
    for host in hosts:
        if not _HOST_PATTERN.fullmatch(host):
            raise ConfigurationError(
                f"WEB_ALLOWED_HOSTS takes host names (optionally '*.example.com'; IPv6 in "
                f"brackets; no port, every port is allowed), not {host!r}"
            )
    return hosts


def _address(value: str, name: str) -> Address:
    display, addr = parseaddr(value)
    if "@" not in addr or any(c in value for c in "\r\n\0"):
        raise ConfigurationError(f"{name} must be an address like 'Billing <billing@example.com>'")
    local, _, domain = addr.rpartition("@")
    return Address(display_name=display, username=local, domain=domain)


@dataclass(frozen=True)
class Brand:
    """Who the notice comes from: all of it configuration, no vendor names built in."""

    product_name: str = "Example Service"
    support_url: str = "https://billing.example.com/support"
    payment_url: str = "https://billing.example.com/payment-methods"
    profile_url: str = "https://billing.example.com/profile"
    reactivate_url: str = "https://billing.example.com/subscriptions"
    remittance_address: str = "Accounts Receivable\n100 Example Street\nExample City"
    company_address: str = ""


@dataclass(frozen=True)
class Settings:
    """Every setting, read once from the environment (see README's config table)."""

    redis_url: str = "redis://localhost:6379/0"
    broker_url: str = ""
    smtp_url: str = "smtp://localhost:25"
    smtp_timeout: float = 30.0
    smtp_pool_size: int = 8
    smtp_tls_verify: bool = True
    smtp_ca_file: str | None = None
    smtp_allow_plain_auth: bool = False
    smtp_dsn: bool = True
    smtp_helo_name: str | None = None  #: None: the machine's fully qualified name
    mail_from: Address = field(
        default_factory=lambda: _address("Billing <billing@example.com>", "MAIL_FROM")
    )
    reply_to: str | None = None
    bounce_address: Address | None = None
    secret_key: str | None = None
    #: The key before a rotation: verifies (never signs) what was signed with it, for the
    #: retry schedule plus a week (see worker.smtp.proof).
    secret_key_previous: str | None = None
    retry_delays: tuple[float, ...] = tuple(float(d) for d in DEFAULT_RETRY_DELAYS)
    retry_jitter: float = 0.1
    visibility_timeout: int = 3600
    sweep_interval: float = 5.0
    notice_retention_days: int = 90
    dead_letter_retention_days: int = 90
    timezone: str = ""  #: "" = by locale (LOCALE_TIMEZONES in render.py)
    brand: Brand = field(default_factory=Brand)
    ops_token: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"
    capture_dir: str = "var/captured"
    bounce_max_bytes: int = 10 * 1024 * 1024
    bounce_max_recipients: int = 100  #: reports read per message; the rest are skipped
    bounce_max_history: int = 200  #: history entries kept per notice (the newest)
    bounce_spool_days: int = 30  #: kept messages are deleted after this many days
    bounce_rate_per_minute: int = 600  #: messages per minute from one peer
    bounce_max_connections: int = 200  #: SMTP sessions open at once, all peers
    bounce_max_connections_per_peer: int = 20  #: SMTP sessions open at once from one peer
    bounce_idle_timeout: float = 60.0  #: seconds a session may sit silent
    suppress_soft_count: int = 3
    suppress_soft_window_days: int = 30
    replay_rate: float = 5.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0  #: 0: the worker serves no metrics
    #: The Host names the web pages answer to (DNS rebinding defence): loopback by default.
    web_allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    web_session_hours: int = 12  #: how long the ops cookie from ``?token=`` is honoured

    @property
    def envelope_base(self) -> Address:
        """The address whose ``local+token@domain`` form is each notice's Return-Path."""
        if self.bounce_address is not None:
            return self.bounce_address
        return Address(username="bounces", domain=self.mail_from.domain)

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def lease_seconds(self) -> float:
        """How long one send attempt may hold a notice before another worker may take it.

        Connect + EHLO + STARTTLS + MAIL + RCPT + DATA each wait up to smtp_timeout; a lease
        shorter than that would let a second worker send while the first is still talking.
        """
        return self.smtp_timeout * 8 + 30

    def require_secret(self) -> str:
        if not self.secret_key:
            raise ConfigurationError(
                "SECRET_KEY is not set: it signs every Return-Path token so that nobody else "
                "can forge a bounce; set it to a long random string"
            )
        return self.secret_key

    def secret_values(self) -> list[str]:
        """Every secret these settings hold: none may appear in a page or a log line."""
        found = [self.secret_key or "", self.secret_key_previous or "", self.ops_token or ""]
        for url in (self.smtp_url, self.redis_url, self.broker_url):
            try:
                password = urlsplit(url).password or ""
            except ValueError:
                continue
            # As written in the URL (percent-encoded) and as sent to the server.
            found += [password, unquote(password)]
        return list(dict.fromkeys(s for s in found if s))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment)."""
    e = os.environ if env is None else env
    d = Settings()

    def get(name: str) -> str | None:
        value = e.get(name)
        return value if value not in (None, "") else None

    brand = Brand(
        product_name=get("BRAND_NAME") or d.brand.product_name,
        support_url=get("SUPPORT_URL") or d.brand.support_url,
        payment_url=get("PAYMENT_URL") or d.brand.payment_url,
        profile_url=get("PROFILE_URL") or d.brand.profile_url,
        reactivate_url=get("REACTIVATE_URL") or d.brand.reactivate_url,
        remittance_address=(get("REMITTANCE_ADDRESS") or d.brand.remittance_address).replace(
            "\\n", "\n"
        ),
        company_address=(get("COMPANY_ADDRESS") or "").replace("\\n", "\n"),
    )
    bounce = get("BOUNCE_ADDRESS")
    delays = get("SEND_RETRY_DELAYS")
    hosts = get("WEB_ALLOWED_HOSTS")
    return Settings(
        redis_url=get("REDIS_URL") or d.redis_url,
        broker_url=get("BROKER_URL") or "",
        smtp_url=get("SMTP_URL") or d.smtp_url,
        smtp_timeout=_float(get("SMTP_TIMEOUT") or "30", "SMTP_TIMEOUT", 0.1),
        smtp_pool_size=_int(get("SMTP_POOL_SIZE") or "8", "SMTP_POOL_SIZE", 1),
        smtp_tls_verify=_bool(get("SMTP_TLS_VERIFY") or "true", "SMTP_TLS_VERIFY"),
        smtp_ca_file=get("SMTP_CA_FILE"),
        smtp_allow_plain_auth=_bool(
            get("SMTP_ALLOW_PLAIN_AUTH") or "false", "SMTP_ALLOW_PLAIN_AUTH"
        ),
        smtp_dsn=_bool(get("SMTP_DSN") or "true", "SMTP_DSN"),
        smtp_helo_name=get("SMTP_HELO_NAME"),
        mail_from=_address(get("MAIL_FROM") or "Billing <billing@example.com>", "MAIL_FROM"),
        reply_to=get("REPLY_TO"),
        bounce_address=_address(bounce, "BOUNCE_ADDRESS") if bounce else None,
        secret_key=get("SECRET_KEY"),
        secret_key_previous=get("SECRET_KEY_PREVIOUS"),
        retry_delays=parse_delays(delays) if delays is not None else d.retry_delays,
        retry_jitter=_float(get("RETRY_JITTER") or "0.1", "RETRY_JITTER"),
        visibility_timeout=_int(get("VISIBILITY_TIMEOUT") or "3600", "VISIBILITY_TIMEOUT", 10),
        sweep_interval=_float(get("SWEEP_INTERVAL") or "5", "SWEEP_INTERVAL", 0.05),
        notice_retention_days=_int(
            get("NOTICE_RETENTION_DAYS") or "90", "NOTICE_RETENTION_DAYS", 1
        ),
        dead_letter_retention_days=_int(
            get("DEAD_LETTER_RETENTION_DAYS") or "90", "DEAD_LETTER_RETENTION_DAYS", 1
        ),
        timezone=get("TIMEZONE") or d.timezone,
        brand=brand,
        ops_token=get("OPS_TOKEN"),
        log_level=(get("LOG_LEVEL") or "INFO").upper(),
        log_format=(get("LOG_FORMAT") or "json").lower(),
        capture_dir=get("CAPTURE_DIR") or d.capture_dir,
        bounce_max_bytes=_int(
            get("BOUNCE_MAX_BYTES") or str(d.bounce_max_bytes), "BOUNCE_MAX_BYTES", 1024
        ),
        bounce_max_recipients=_int(
            get("BOUNCE_MAX_RECIPIENTS") or str(d.bounce_max_recipients), "BOUNCE_MAX_RECIPIENTS", 1
        ),
        bounce_max_history=_int(
            get("BOUNCE_MAX_HISTORY") or str(d.bounce_max_history), "BOUNCE_MAX_HISTORY", 10
        ),
        bounce_spool_days=_int(
            get("BOUNCE_SPOOL_DAYS") or str(d.bounce_spool_days), "BOUNCE_SPOOL_DAYS", 1
        ),
        bounce_rate_per_minute=_int(
            get("BOUNCE_RATE_PER_MINUTE") or str(d.bounce_rate_per_minute),
            "BOUNCE_RATE_PER_MINUTE",
            1,
        ),
        bounce_max_connections=_int(
            get("BOUNCE_MAX_CONNECTIONS") or str(d.bounce_max_connections),
            "BOUNCE_MAX_CONNECTIONS",
            1,
        ),
        bounce_max_connections_per_peer=_int(
            get("BOUNCE_MAX_CONNECTIONS_PER_PEER") or str(d.bounce_max_connections_per_peer),
            "BOUNCE_MAX_CONNECTIONS_PER_PEER",
            1,
        ),
        bounce_idle_timeout=_float(
            get("BOUNCE_IDLE_TIMEOUT") or str(d.bounce_idle_timeout), "BOUNCE_IDLE_TIMEOUT", 1
        ),
        suppress_soft_count=_int(get("SUPPRESS_SOFT_COUNT") or "3", "SUPPRESS_SOFT_COUNT", 0),
        suppress_soft_window_days=_int(
            get("SUPPRESS_SOFT_WINDOW_DAYS") or "30", "SUPPRESS_SOFT_WINDOW_DAYS", 1
        ),
        replay_rate=_float(get("REPLAY_RATE") or "5", "REPLAY_RATE", 0.01),
        metrics_host=get("METRICS_HOST") or d.metrics_host,
        metrics_port=_int(get("METRICS_PORT") or "0", "METRICS_PORT", 0),
        web_allowed_hosts=parse_hosts(hosts) if hosts is not None else d.web_allowed_hosts,
        web_session_hours=_int(get("WEB_SESSION_HOURS") or "12", "WEB_SESSION_HOURS", 1),
    )


_override: Settings | None = None


@functools.lru_cache(maxsize=1)
def _from_process_env() -> Settings:
    return from_env()


def get_settings() -> Settings:
    """The process-wide settings: read from the environment on first use, unless the
    embedded dev mode or a test put its own in place with ``configure``."""
    return _override if _override is not None else _from_process_env()


def configure(settings: Settings | None) -> None:
    """Use ``settings`` for this process from now on (None: back to the environment)."""
    global _override
    _override = settings
    _from_process_env.cache_clear()


def dev_secret() -> str:
    """A throwaway signing key for the embedded dev mode."""
    return secrets.token_hex(32)
