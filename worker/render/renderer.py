"""Templates, catalogs, formatting and CSS inlining: one event → subject, text and HTML."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

from worker.errors import TemplateProblem
from worker.intake.events import Event
from worker.render.i18n import LANG_TAGS, negotiate, translations
from worker.render.inline import Placeholders, inline_css, strip_remote_css
from worker.render.textwrap_cjk import Helpers
from worker.resources import resource_dir
from worker.settings import Brand, Settings

__all__ = ["Rendered", "Renderer", "build_context", "inline_css", "strip_remote_css"]

#: Data is deleted this many days after the services are cancelled.
DATA_RETENTION_DAYS = 90
SUBJECT_MAX = 78
#: Display time zone per locale when TIMEZONE is not set.
LOCALE_TIMEZONES = {"zh_TW": "Asia/Taipei", "en": "UTC"}

@dataclass(frozen=True)
class Rendered:
    """One notice as it will be sent."""

    locale: str  #: the catalog used: "en" or "zh_TW"
    lang: str  #: the BCP 47 tag of that locale: "en" or "zh-TW"
    subject: str
    text: str
    html: str


@functools.lru_cache(maxsize=16)
def _babel_locale(locale: str) -> Locale:
    # Babel resolves a locale name by scanning its data files on every call; parsing it
    # once per process took a third of a notice's rendering time.
    return Locale.parse(locale)


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _tz(settings: Settings, locale: str) -> ZoneInfo:
    return _zone(settings.timezone or LOCALE_TIMEZONES.get(locale, "UTC"))


def _day(value: datetime | date | None, locale: str, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return format_date(value, format="long", locale=_babel_locale(locale))


def _moment(value: datetime | date | None, locale: str, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_datetime(value.astimezone(tz), format="medium", tzinfo=tz,
                               locale=_babel_locale(locale))
    return format_date(value, format="long", locale=_babel_locale(locale))


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
        "amount": format_currency(event.amount, event.currency, locale=_babel_locale(locale)),
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


#: Context keys holding text that comes from the event (or is formatted from it).
EVENT_TEXT_KEYS = ("recipient", "amount", "failed_at", "failed_on", "due_date", "disable_at",
                   "deletion_date")
EVENT_TEXT_FIELDS = ("event_id", "subscription_id", "admin_email", "card_brand", "card_last4",
                     "admin_name", "account_name", "subscription_name")


def layout_context(event: Event, context: dict[str, Any], ph: Placeholders) -> dict[str, Any]:
    """The context with every event-supplied text replaced by a token (see worker.render.inline).

    What stays real (enums, flags, which fields are present, brand settings) is what
    decides the layout.
    """
    from dataclasses import replace

    tokens: dict[str, Any] = {f: ph(getattr(event, f)) for f in EVENT_TEXT_FIELDS}
    layout_event = replace(event, **tokens)
    out = dict(context, event=layout_event)
    for key in EVENT_TEXT_KEYS:
        out[key] = ph(context[key])
    out["subscription_label"] = (layout_event.subscription_name
                                 or layout_event.subscription_id)
    return out


class Renderer:
    """Renders notices; one Jinja2 environment per locale, templates reloaded when edited."""

    def __init__(self, settings: Settings, template_dir: Path | None = None,
                 cache_layouts: bool = True) -> None:
        self.settings = settings
        self.template_dir = template_dir or resource_dir("templates")
        #: Inline each layout once (see worker.render.inline); off, every mail goes to premailer.
        self.cache_layouts = cache_layouts
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
                # Wrapping in Python: the same loop as a Jinja macro cost milliseconds.
                env.globals["w"] = Helpers
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
            html = self._html(env, event, context)
        except jinja2.TemplateError as exc:
            where = f" ({exc.name}, line {exc.lineno})" if isinstance(
                exc, jinja2.TemplateSyntaxError) else ""
            raise TemplateProblem(f"template error{where}: {exc}") from exc
        return Rendered(
            locale=chosen,
            lang=LANG_TAGS[chosen],
            subject=clean_subject(subject),
            text=tidy_text(text),
            html=html,
        )

    def _html(self, env: jinja2.Environment, event: Event, context: dict[str, Any]) -> str:
        template = env.get_template("notice.html")
        if self.cache_layouts:
            ph = Placeholders()
            layout = template.render(layout_context(event, context, ph))
            html = ph.inline(layout)
            if html is not None:
                return html
        return inline_css(template.render(context))


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
