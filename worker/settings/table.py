"""Every environment variable this project reads, with the field it sets and its parser."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from worker.errors import ConfigurationError
from worker.settings import values as v
from worker.settings.model import LOCALE_SUFFIXES, Brand, Settings


@dataclass(frozen=True)
class Var:
    """One environment variable: unset or empty leaves the field at its default."""

    name: str
    field: str  #: a Settings field, or "brand.<field>"
    parse: v.Parser
    #: A setting a notice shows to its reader: ``NAME_<LOCALE>`` variants are read too.
    localized: bool = False
    #: For a ``NAME_<LOCALE>`` variant: the locale it wins for ("zh_TW"); None otherwise.
    locale: str | None = None


#: The one list of settings (README's configuration table documents each, a test checks).
_PLAIN: Final[tuple[Var, ...]] = (
    Var("REDIS_URL", "redis_url", v.redis_url),
    Var("BROKER_URL", "broker_url", v.broker_url),
    Var("ALLOW_VOLATILE_REDIS", "allow_volatile_redis", v.boolean),
    Var("REDIS_SENTINEL_MASTER", "redis_sentinel_master", v.text),
    Var("SMTP_URL", "smtp_url", v.smtp_url),
    Var("SMTP_TIMEOUT", "smtp_timeout", v.number(0.1)),
    # SMTP_POOL_SIZE is the old name of SMTP_CONCURRENCY, still accepted (the new one wins).
    Var("SMTP_POOL_SIZE", "smtp_concurrency", v.integer(1)),
    Var("SMTP_CONCURRENCY", "smtp_concurrency", v.integer(1)),
    Var("RELAY_RATE", "relay_rate", v.number(0.0)),
    Var("DOMAIN_RATES", "domain_rates", v.domain_rates),
    Var("RELAY_MAX_CONNECTIONS", "relay_max_connections", v.integer(0)),
    Var("SMTP_TLS_VERIFY", "smtp_tls_verify", v.boolean),
    Var("SMTP_CA_FILE", "smtp_ca_file", v.text),
    Var("SMTP_ALLOW_PLAIN_AUTH", "smtp_allow_plain_auth", v.boolean),
    Var("SMTP_DSN", "smtp_dsn", v.boolean),
    Var("SMTP_HELO_NAME", "smtp_helo_name", v.text),
    Var("MAIL_FROM", "mail_from", v.address),
    Var("MAIL_FROM_NAME", "mail_from_name", v.text, localized=True),
    Var("REPLY_TO", "reply_to", v.text),
    Var("BOUNCE_ADDRESS", "bounce_address", v.address),
    Var("SECRET_KEY", "secret_key", v.text),
    Var("SECRET_KEY_PREVIOUS", "secret_key_previous", v.text),
    Var("SEND_RETRY_DELAYS", "retry_delays", v.delays),
    Var("RETRY_JITTER", "retry_jitter", v.number(0.0)),
    Var("VISIBILITY_TIMEOUT", "visibility_timeout", v.integer(10)),
    Var("SWEEP_INTERVAL", "sweep_interval", v.number(0.05)),
    Var("NOTICE_RETENTION_DAYS", "notice_retention_days", v.integer(1)),
    Var("DEAD_LETTER_RETENTION_DAYS", "dead_letter_retention_days", v.integer(1)),
    Var("TIMEZONE", "timezone", v.zone),
    Var("REMINDER_SCHEDULE", "reminder_schedule", v.durations),
    Var("FINAL_NOTICE_BEFORE", "final_notice_before", v.duration),
    Var("SEND_WINDOW", "send_window", v.window),
    Var("BRAND_NAME", "brand.product_name", v.text, localized=True),
    Var("SUPPORT_URL", "brand.support_url", v.text, localized=True),
    Var("PAYMENT_URL", "brand.payment_url", v.text, localized=True),
    Var("PROFILE_URL", "brand.profile_url", v.text, localized=True),
    Var("REACTIVATE_URL", "brand.reactivate_url", v.text, localized=True),
    Var("REMITTANCE_ADDRESS", "brand.remittance_address", v.lines, localized=True),
    Var("COMPANY_ADDRESS", "brand.company_address", v.lines, localized=True),
    Var("OPS_TOKEN", "ops_token", v.text),
    Var("LOG_LEVEL", "log_level", v.choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True)),
    Var("LOG_FORMAT", "log_format", v.choice("json", "text")),
    Var("CAPTURE_DIR", "capture_dir", v.text),
    Var("BOUNCE_MAX_BYTES", "bounce_max_bytes", v.integer(1024)),
    Var("BOUNCE_MAX_RECIPIENTS", "bounce_max_recipients", v.integer(1)),
    Var("BOUNCE_MAX_HISTORY", "bounce_max_history", v.integer(10)),
    Var("BOUNCE_SPOOL_DAYS", "bounce_spool_days", v.integer(1)),
    Var("BOUNCE_RATE_PER_MINUTE", "bounce_rate_per_minute", v.integer(1)),
    Var("BOUNCE_MAX_CONNECTIONS", "bounce_max_connections", v.integer(1)),
    Var("BOUNCE_MAX_CONNECTIONS_PER_PEER", "bounce_max_connections_per_peer", v.integer(1)),
    Var("BOUNCE_IDLE_TIMEOUT", "bounce_idle_timeout", v.number(1.0)),
    Var("SUPPRESS_SOFT_COUNT", "suppress_soft_count", v.integer(0)),
    Var("SUPPRESS_SOFT_WINDOW_DAYS", "suppress_soft_window_days", v.integer(1)),
    Var("REPLAY_RATE", "replay_rate", v.number(0.01)),
    Var("METRICS_HOST", "metrics_host", v.text),
    Var("METRICS_PORT", "metrics_port", v.integer(0, 65535)),
    Var("WEB_ALLOWED_HOSTS", "web_allowed_hosts", v.hosts),
    Var("WEB_SESSION_HOURS", "web_session_hours", v.integer(1)),
    Var(
        "SMTP_PROVIDER",
        "smtp_provider",
        v.choice("generic", "ses", "sendgrid", "mailgun", "postmark"),
    ),
    Var("WEBHOOK_MAX_BYTES", "webhook_max_bytes", v.integer(1024)),
    Var("SES_TOPIC_ARNS", "ses_topic_arns", v.topic_arns),
    Var("EVENTS_STREAM_MAXLEN", "events_stream_maxlen", v.integer(0)),
    Var("OUTBOUND_WEBHOOK_URL", "outbound_webhook_url", v.webhook_url),
    Var("OUTBOUND_WEBHOOK_SECRET", "outbound_webhook_secret", v.text),
    Var("OUTBOUND_STATUSES", "outbound_statuses", v.statuses),
    Var("SNS_CERT_DIR", "sns_cert_dir", v.text),
    Var("SENDGRID_WEBHOOK_PUBLIC_KEY", "sendgrid_webhook_public_key", v.base64_der),
    Var("MAILGUN_WEBHOOK_SIGNING_KEY", "mailgun_webhook_signing_key", v.text),
    Var("POSTMARK_WEBHOOK_USER", "postmark_webhook_user", v.text),
    Var("POSTMARK_WEBHOOK_PASSWORD", "postmark_webhook_password", v.text),
)


def _with_locale_variants(plain: tuple[Var, ...]) -> tuple[Var, ...]:
    """Each localized Var followed by its ``NAME_<SUFFIX>`` variant for every locale."""
    out: list[Var] = []
    for var in plain:
        out.append(var)
        if var.localized:
            out += [
                replace(var, name=f"{var.name}_{suffix}", locale=locale, localized=False)
                for locale, suffix in LOCALE_SUFFIXES.items()
            ]
    return tuple(out)


VARS: Final[tuple[Var, ...]] = _with_locale_variants(_PLAIN)
_FIELDS: Final = {f.name for f in fields(Settings)}
_BRAND_FIELDS: Final = {f.name for f in fields(Brand)}


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment).

    Every variable is parsed here, once, so that a process with a wrong setting refuses to
    start with one line naming the variable, instead of failing on its first notice.
    """
    e = os.environ if env is None else env
    top: dict[str, Any] = {}
    brand: dict[str, Any] = {}
    localized: list[tuple[str, str, Any]] = []
    for var in VARS:
        raw = e.get(var.name)
        if raw is None or raw == "":
            continue
        value = var.parse(raw, var.name)
        if var.locale is not None:
            localized.append((var.locale, var.field, value))
        elif var.field.startswith("brand."):
            brand[var.field.removeprefix("brand.")] = value
        else:
            top[var.field] = value
    settings = Settings(**top, localized=tuple(localized))
    if settings.outbound_webhook_url and not settings.outbound_webhook_secret:
        # The billing platform must be able to tell our POSTs from anyone else's.
        raise ConfigurationError(
            "OUTBOUND_WEBHOOK_URL is set without OUTBOUND_WEBHOOK_SECRET: every POST is "
            "signed with it; set it to a long random string shared with the receiver"
        )
    return replace(settings, brand=replace(settings.brand, **brand)) if brand else settings


def _check_table() -> None:
    """Every Var names a real field (a typo would silently set nothing)."""
    for var in VARS:
        name = var.field.removeprefix("brand.")
        known = _BRAND_FIELDS if var.field.startswith("brand.") else _FIELDS
        if name not in known:
            raise AssertionError(f"{var.name} sets the unknown field {var.field}")


_check_table()
