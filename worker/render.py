"""Templates, catalogs, formatting and CSS inlining: one event → subject, text and HTML."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from premailer import Premailer

from .errors import TemplateProblem
from .events import Event
from .i18n import LANG_TAGS, negotiate, translations
from .resources import resource_dir
from .settings import Brand, Settings

#: Data is deleted this many days after the services are cancelled.
DATA_RETENTION_DAYS = 90
SUBJECT_MAX = 78
#: Display time zone per locale when TIMEZONE is not set.
LOCALE_TIMEZONES = {"zh_TW": "Asia/Taipei", "en": "UTC"}

_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.S | re.I)
_IMPORT = re.compile(r"@import\b[^;]*;?", re.I)
_LINK_STYLESHEET = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?stylesheet[^>]*>", re.I)


@dataclass(frozen=True)
class Rendered:
    """One notice as it will be sent."""

    locale: str  #: the catalog used: "en" or "zh_TW"
    lang: str  #: the BCP 47 tag of that locale: "en" or "zh-TW"
    subject: str
    text: str
    html: str


def strip_remote_css(html: str) -> str:
    """Remove every way a stylesheet could pull CSS from the network.

    premailer fetches <link rel=stylesheet> unless allow_network=False, and even then
    cssutils follows @import inside <style>; neither may ever reach the network from a
    worker, so both are removed before inlining.
    """
    html = _LINK_STYLESHEET.sub("", html)
    return _STYLE_BLOCK.sub(lambda m: m.group(1) + _IMPORT.sub("", m.group(2)) + m.group(3), html)


def inline_css(html: str) -> str:
    """Inline the <style> rules into style attributes (media queries stay in <style>)."""
    return str(Premailer(
        strip_remote_css(html),
        allow_network=False,
        base_url=None,
        keep_style_tags=False,
        strip_important=False,
        remove_classes=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform(pretty_print=False))


def _tz(settings: Settings, locale: str) -> ZoneInfo:
    return ZoneInfo(settings.timezone or LOCALE_TIMEZONES.get(locale, "UTC"))


def _day(value: datetime | date | None, locale: str, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return format_date(value, format="long", locale=locale)


def _moment(value: datetime | date | None, locale: str, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_datetime(value.astimezone(tz), format="medium", tzinfo=tz, locale=locale)
    return format_date(value, format="long", locale=locale)


def build_context(event: Event, locale: str, settings: Settings) -> dict[str, Any]:
    """Everything a template may use; every key is always present (None when unknown)."""
    tz = _tz(settings, locale)
    deletion: date | None = None
    if event.disable_at is not None:
        base = (event.disable_at.astimezone(tz).date() if isinstance(event.disable_at, datetime)
                else event.disable_at)
        deletion = base + timedelta(days=DATA_RETENTION_DAYS)
    brand: Brand = settings.brand
    return {
        "event": event,
        "locale": locale,
        "lang": LANG_TAGS[locale],
        "brand": brand,
        "sender_name": settings.mail_from.display_name or brand.product_name,
        "sender_address": settings.mail_from.addr_spec,
        "recipient": event.admin_email,
        "amount": format_currency(event.amount, event.currency, locale=locale),
        "failed_at": _moment(event.failed_at, locale, tz),
        "failed_on": _day(event.failed_at, locale, tz),
        "due_date": _day(event.due_date, locale, tz),
        "disable_at": _day(event.disable_at, locale, tz),
        "deletion_date": _day(deletion, locale, tz),
        "retention_days": DATA_RETENTION_DAYS,
        "disabled": event.subscription_status == "disabled",
        "card_payment": event.payment_method == "credit_card",
        "timezone": str(tz),
        # The failure reason as a plain string ("card_declined", ..., "unknown").
        "reason": str(event.reason),
        # What the notice calls the subscription: its name, else its id.
        "subscription_label": event.subscription_name or event.subscription_id,
        # Multi-line brand addresses, one entry per non-empty line ([] when not configured).
        "remittance_lines": [ln.strip() for ln in brand.remittance_address.splitlines()
                             if ln.strip()],
        "company_address_lines": [ln.strip() for ln in brand.company_address.splitlines()
                                  if ln.strip()],
    }


class Renderer:
    """Renders notices; one Jinja2 environment per locale, templates reloaded when edited."""

    def __init__(self, settings: Settings, template_dir: Path | None = None) -> None:
        self.settings = settings
        self.template_dir = template_dir or resource_dir("templates")
        self._envs: dict[str, jinja2.Environment] = {}
        self._lock = threading.Lock()

    def environment(self, locale: str) -> jinja2.Environment:
        trans = translations(locale)
        with self._lock:
            env = self._envs.get(locale)
            if env is None or getattr(env, "_catalog", None) is not trans:
                env = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(str(self.template_dir)),
                    # .html is escaped; .txt is plain text, which no mail client interprets.
                    autoescape=jinja2.select_autoescape(
                        enabled_extensions=("html", "htm", "xml", "html.j2"),
                        default_for_string=True, default=False),
                    undefined=jinja2.StrictUndefined,
                    extensions=["jinja2.ext.i18n"],
                    trim_blocks=True,
                    lstrip_blocks=True,
                    auto_reload=True,
                )
                env.install_gettext_translations(trans, newstyle=True)  # type: ignore[attr-defined]
                env._catalog = trans  # type: ignore[attr-defined]
                self._envs[locale] = env
            return env

    def render(self, event: Event, locale: str | None = None) -> Rendered:
        """Render ``event`` in ``locale`` (default: negotiated from the event)."""
        chosen = negotiate(locale if locale is not None else event.locale)
        env = self.environment(chosen)
        context = build_context(event, chosen, self.settings)
        try:
            subject = env.get_template("subject.txt").render(context)
            text = env.get_template("notice.txt").render(context)
            html = env.get_template("notice.html").render(context)
        except jinja2.TemplateError as exc:
            where = f" ({exc.name}, line {exc.lineno})" if isinstance(
                exc, jinja2.TemplateSyntaxError) else ""
            raise TemplateProblem(f"template error{where}: {exc}") from exc
        return Rendered(
            locale=chosen,
            lang=LANG_TAGS[chosen],
            subject=clean_subject(subject),
            text=tidy_text(text),
            html=inline_css(html),
        )


def clean_subject(subject: str) -> str:
    """One line, no control characters, at most SUBJECT_MAX characters."""
    line = " ".join("".join(c if c.isprintable() else " " for c in subject).split())
    if len(line) > SUBJECT_MAX:
        line = line[: SUBJECT_MAX - 1].rstrip() + "…"
    return line


def tidy_text(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"
