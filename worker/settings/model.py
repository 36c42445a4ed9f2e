"""The settings themselves: one frozen object, every field with its default."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from worker.errors import ConfigurationError
from worker.settings.values import address

#: Production retry schedule (seconds between attempts). RFC 5321 §4.5.4.1 asks for at
#: least 30 minutes between retries once the first few fail and for giving up after
#: 4-5 days; this starts faster (a relay hiccup usually clears within minutes) and
#: sums to about 4.2 days.
DEFAULT_RETRY_DELAYS = (300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400, 86400)


#: The locales a notice is written in, and the suffix of their variables: a variable such
#: as ``BRAND_NAME_ZH_TW`` wins over ``BRAND_NAME`` in zh-TW notices.
LOCALE_SUFFIXES: Final = {"en": "EN", "zh_TW": "ZH_TW"}
#: What a locale shows when neither ``NAME_<SUFFIX>`` nor ``NAME`` is set. Taiwanese
#: businesses pay an invoice by bank transfer (匯款/轉帳), not by mailing a cheque, so a
#: zh-TW notice gives bank details; the values are placeholders, like the en address.
LOCALE_DEFAULTS: Final[dict[str, dict[str, str]]] = {
    "zh_TW": {
        "brand.remittance_address": "\n".join(
            (
                "銀行：範例商業銀行（代碼 000）營業部",
                "戶名：範例股份有限公司",
                "帳號：000-00-000000-0",
            )
        ),
    },
}


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
    #: Sends in flight at once per worker process (connections to the relay, opened as
    #: needed): the sending engine's slots.
    smtp_concurrency: int = 32
    #: Mails per second to the relay across every worker (0: no limit).
    relay_rate: float = 0.0
    #: Mails per second per recipient domain across every worker, e.g. gmail.com=20.
    domain_rates: tuple[tuple[str, float], ...] = ()
    #: Connections to the relay across every worker (0: no limit).
    relay_max_connections: int = 0
    smtp_tls_verify: bool = True
    smtp_ca_file: str | None = None
    smtp_allow_plain_auth: bool = False
    smtp_dsn: bool = True
    smtp_helo_name: str | None = None  #: None: the machine's fully qualified name
    mail_from: Address = field(
        default_factory=lambda: address("Billing <billing@example.com>", "MAIL_FROM")
    )
    #: The From display name (wins over MAIL_FROM's own); None: MAIL_FROM's.
    mail_from_name: str | None = None
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
    #: Offsets (seconds) from the first notice at which reminders go out; empty: none.
    reminder_schedule: tuple[float, ...] = ()
    #: With a reminder schedule and a disable_at: the final notice this long before it.
    final_notice_before: float = 2 * 86400.0
    #: Reminders go out only between these minutes after local midnight; None: any time.
    send_window: tuple[int, int] | None = None
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
    #: Accept a Redis that keeps nothing across a restart (no AOF) or evicts keys: only for
    #: throwaway stores (tests, demos); see worker.runtime.preflight.
    allow_volatile_redis: bool = False
    #: The master's name for sentinel:// URLs (the store's and the broker's).
    redis_sentinel_master: str = "mymaster"
    #: About how many entries the pdn:events stream keeps (0: no stream).
    events_stream_maxlen: int = 100_000
    #: Where each change in outbound_statuses is POSTed, signed (empty: no webhook).
    outbound_webhook_url: str | None = None
    outbound_webhook_secret: str | None = None
    outbound_statuses: tuple[str, ...] = (
        "bounced",
        "suppressed",
        "failed",
        "delivered",
        "cancelled",
    )
    #: The relay's kind: "postmark" adds the X-PM-Metadata-notice header its webhooks return.
    smtp_provider: str = "generic"
    #: Largest webhook request body read (bytes); a bigger one is refused with 413.
    webhook_max_bytes: int = 2 * 1024 * 1024
    #: SNS topics whose SES events /webhooks/ses accepts (empty: the endpoint answers 404).
    ses_topic_arns: tuple[str, ...] = ()
    #: A folder of SNS signing certificates (PEM, named as in their URL) used instead of
    #: fetching them: tests and air-gapped installs.
    sns_cert_dir: str | None = None
    sendgrid_webhook_public_key: str | None = None  #: base64 DER (ECDSA P-256)
    mailgun_webhook_signing_key: str | None = None
    postmark_webhook_user: str | None = None
    postmark_webhook_password: str | None = None
    #: ``NAME_<SUFFIX>`` values: (locale, field, value), applied by ``for_locale``.
    localized: tuple[tuple[str, str, Any], ...] = ()
    _per_locale: dict[str, Settings] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def localized_value(self, name: str, locale: str) -> Any:
        """The value ``NAME_<SUFFIX>`` gave ``name`` (a field, or "brand.<field>") for
        ``locale``; None when that variable is not set."""
        found = [value for loc, f, value in self.localized if loc == locale and f == name]
        return found[-1] if found else None

    def for_locale(self, locale: str) -> Settings:
        """These settings as a notice in ``locale`` sees them: each localized field from
        its ``NAME_<SUFFIX>`` variable, else its plain variable, else the locale's default
        (LOCALE_DEFAULTS), else the field's default."""
        cached = self._per_locale.get(locale)
        if cached is not None:
            return cached
        plain = Brand()
        brand: dict[str, Any] = {}
        for name, value in LOCALE_DEFAULTS.get(locale, {}).items():
            key = name.removeprefix("brand.")
            if getattr(self.brand, key) == getattr(plain, key):  # the plain one is unset
                brand[key] = value
        sender_name = self.mail_from_name
        for loc, name, value in self.localized:
            if loc != locale:
                continue
            if name.startswith("brand."):
                brand[name.removeprefix("brand.")] = value
            elif name == "mail_from_name":
                sender_name = value
        mail_from = self.mail_from
        if sender_name is not None:
            mail_from = Address(
                display_name=sender_name, username=mail_from.username, domain=mail_from.domain
            )
        result = replace(self, brand=replace(self.brand, **brand), mail_from=mail_from)
        self._per_locale[locale] = result
        return result

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
        found = [
            self.secret_key or "",
            self.secret_key_previous or "",
            self.ops_token or "",
            self.mailgun_webhook_signing_key or "",
            self.postmark_webhook_password or "",
            self.outbound_webhook_secret or "",
        ]
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
