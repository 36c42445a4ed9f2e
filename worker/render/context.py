"""What a notice template sees: the event formatted for its locale, and the brand."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, get_currency_precision, get_currency_symbol

from worker.intake.events import Event
from worker.render.i18n import DEFAULT, LANG_TAGS
from worker.render.inline import Placeholders
from worker.settings import Brand, Settings

#: Data is deleted this many days after the services are cancelled.
DATA_RETENTION_DAYS = 90


@dataclass(frozen=True)
class StepInfo:
    """Which step of its sequence a notice is, as the copy needs it (plain values: the
    render stage knows nothing of the store)."""

    step: str = "first"  #: first, reminder, final or disabled
    step_no: int = 1
    #: Whole days since the charge failed (reminders say how long it has been past due).
    days_past_due: int | None = None


#: Display time zone per locale when TIMEZONE is not set.
LOCALE_TIMEZONES = {"zh_TW": "Asia/Taipei", "en": "UTC"}


@functools.lru_cache(maxsize=16)
def _babel_locale(locale: str) -> Locale:
    # Babel resolves a locale name by scanning its data files on every call; parsing it
    # once per process took a third of a notice's rendering time.
    return Locale.parse(locale)


#: Symbols that read the same in every locale. CLDR gives TWD as "$" in zh-TW (and USD as
#: "$" in en), and "¥" alone reads as renminbi to a Taiwanese reader: a notice names the
#: currency unambiguously, and the same way in both languages.
CURRENCY_SYMBOLS = {"TWD": "NT$", "USD": "US$", "JPY": "JP¥", "CNY": "CN¥"}
#: Currencies billed in whole units in practice (TWD has cents on paper only): a whole
#: amount is shown without ".00", an amount with cents keeps them.
WHOLE_UNIT_CURRENCIES = frozenset({"TWD"})


def currency_symbol(currency: str) -> str:
    """The symbol a notice shows for ``currency``, whatever its locale."""
    return CURRENCY_SYMBOLS.get(currency) or get_currency_symbol(currency, locale="en")


def format_amount(amount: Decimal, currency: str, locale: str) -> str:
    """``amount`` with its currency, the same in every locale: NT$86,400, US$49.00, JP¥12,000.

    The pattern is explicit (Babel's number formatting, with the locale's separators) so
    that the symbol and the decimals do not change with the reader's language.
    """
    digits = get_currency_precision(currency)
    if currency in WHOLE_UNIT_CURRENCIES and amount == amount.to_integral_value():
        digits = 0
    symbol = currency_symbol(currency).replace("'", "''")
    pattern = f"'{symbol}'#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(amount, format=pattern, locale=_babel_locale(locale))


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
        return format_datetime(
            value.astimezone(tz), format="medium", tzinfo=tz, locale=_babel_locale(locale)
        )
    return format_date(value, format="long", locale=_babel_locale(locale))


#: Bidirectional controls (embeddings, overrides, isolates, marks): in a name they can make
#: a row of the mail read differently from what it holds ("\u202eSU 00.99 eud tnuomA").
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
#: The event's free-text names: what a template shows as the event gave it.
NAME_FIELDS = ("admin_name", "account_name", "subscription_name", "card_brand")


def without_bidi(event: Event) -> Event:
    """The event with every bidi control taken out of its names (none left empty)."""
    names: dict[str, Any] = {}
    for name in NAME_FIELDS:
        value = getattr(event, name)
        if value and any(c in BIDI_CONTROLS for c in value):
            names[name] = "".join(c for c in value if c not in BIDI_CONTROLS).strip() or None
    return replace(event, **names) if names else event


def build_context(
    event: Event, locale: str, settings: Settings, step: StepInfo | None = None
) -> dict[str, Any]:
    """Everything a template may use; every key is always present (None when unknown)."""
    settings = settings.for_locale(locale)
    step = step or StepInfo()
    tz = _zone(event.timezone) if event.timezone else _tz(settings, locale)
    deletion: date | None = None
    if event.disable_at is not None:
        base = (
            event.disable_at.astimezone(tz).date()
            if isinstance(event.disable_at, datetime)
            else event.disable_at
        )
        deletion = base + timedelta(days=DATA_RETENTION_DAYS)
    brand: Brand = settings.brand
    if event.payment_url:
        # The customer's own link (a hosted invoice, their payment methods) wins.
        brand = replace(brand, payment_url=event.payment_url)
    return {
        "event": event,
        "locale": locale,
        "lang": LANG_TAGS[locale],
        "brand": brand,
        # Who signs the notice: None signs it as the billing team. A language other than
        # the source one signs with its own MAIL_FROM_NAME_<SUFFIX> only, never with a
        # plain name written for another language.
        "sender_name": (
            settings.mail_from.display_name or brand.product_name
            if locale == DEFAULT
            else settings.localized_value("mail_from_name", locale)
        ),
        "sender_address": settings.mail_from.addr_spec,
        "recipient": event.admin_email,
        "amount": format_amount(event.amount, event.currency, locale),
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
        "remittance_lines": [
            ln.strip() for ln in brand.remittance_address.splitlines() if ln.strip()
        ],
        "company_address_lines": [
            ln.strip() for ln in brand.company_address.splitlines() if ln.strip()
        ],
        "step": step.step,
        "step_no": step.step_no,
        "days_past_due": step.days_past_due,
        "attempt": event.attempt,
        "next_retry_on": _day(event.next_retry_at, locale, tz),
    }


#: Context keys holding text that comes from the event (or is formatted from it).
EVENT_TEXT_KEYS = (
    "recipient",
    "amount",
    "failed_at",
    "failed_on",
    "due_date",
    "disable_at",
    "deletion_date",
    "next_retry_on",
)
EVENT_TEXT_FIELDS = (
    "event_id",
    "subscription_id",
    "admin_email",
    "card_brand",
    "card_last4",
    "admin_name",
    "account_name",
    "subscription_name",
)


def layout_context(event: Event, context: dict[str, Any], ph: Placeholders) -> dict[str, Any]:
    """The context with every event-supplied text replaced by a token (see worker.render.inline).

    What stays real (enums, flags, which fields are present, brand settings) is what
    decides the layout.
    """
    tokens: dict[str, Any] = {f: ph(getattr(event, f)) for f in EVENT_TEXT_FIELDS}
    layout_event = replace(event, **tokens)
    out = dict(context, event=layout_event)
    for key in EVENT_TEXT_KEYS:
        out[key] = ph(context[key])
    out["subscription_label"] = layout_event.subscription_name or layout_event.subscription_id
    if event.payment_url:
        # A per-customer link is event text too: one cached layout serves every customer.
        out["brand"] = replace(context["brand"], payment_url=ph(event.payment_url))
    return out
