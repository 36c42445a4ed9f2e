"""The event contract: parse and validate one failed-charge event, with no I/O."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from babel.numbers import list_currencies

from worker.errors import InvalidEvent
from worker.intake import fields
from worker.intake.addresses import normalize_address
from worker.intake.cards import find_card_number
from worker.intake.kinds import EventType, expect_type
from worker.intake.money import parse_amount as _amount

#: Larger events are refused: a real failed-charge event is well under 4 KiB.
MAX_EVENT_BYTES = 64 * 1024
#: Display names longer than this are refused rather than cut (a cut name misleads).
MAX_NAME_CHARS = 256
MAX_ID_CHARS = 128
#: Dates outside these years are refused (placeholders such as 0001-01-01 or 9999-12-31).
MIN_YEAR, MAX_YEAR = 1900, 2999


class PaymentMethod(StrEnum):
    CREDIT_CARD = "credit_card"  #: the card on file was charged and the charge failed
    INVOICE = "invoice"  #: the customer pays by invoice and the payment is overdue


class FailureReason(StrEnum):
    CARD_DECLINED = "card_declined"  #: the issuer declined the charge
    CARD_EXPIRED = "card_expired"  #: the card on file has expired
    INSUFFICIENT_FUNDS = "insufficient_funds"  #: the card's limit or balance was too low
    PROCESSING_ERROR = "processing_error"  #: the payment processor failed
    UNKNOWN = "unknown"  #: no reason given


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"  #: still running; the notice warns before anything stops
    DISABLED = "disabled"  #: already switched off for non-payment


REQUIRED = ("event_id", "subscription_id", "admin_email", "amount", "currency", "payment_method")
KNOWN = (
    *REQUIRED,
    "locale",
    "reason",
    "card_brand",
    "card_last4",
    "admin_name",
    "account_name",
    "subscription_name",
    "subscription_status",
    "failed_at",
    "due_date",
    "disable_at",
    "type",
    "invoice_id",
    "attempt",
    "next_retry_at",
    "payment_url",
    "timezone",
)

_CURRENCIES = frozenset(list_currencies())


def _text(
    payload: dict[str, Any], name: str, *, required: bool = False, max_chars: int = MAX_NAME_CHARS
) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidEvent(name, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidEvent(name, f"must be a string, not {type(value).__name__}")
    # Control characters (CR, LF, NUL, tabs...) are never meaningful in a name or id; they
    # are turned into spaces so the text still reads, and can never start a new header.
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > max_chars:
        raise InvalidEvent(name, f"is longer than {max_chars} characters")
    if required and not cleaned:
        raise InvalidEvent(name, "is empty")
    return cleaned or None


def _enum(
    payload: dict[str, Any],
    name: str,
    enum: type[StrEnum],
    default: StrEnum | None,
    lenient: bool = False,
) -> Any:
    value = payload.get(name)
    if value is None:
        if default is None:
            raise InvalidEvent(name, "is required")
        return default
    if not isinstance(value, str):
        raise InvalidEvent(name, f"must be a string, not {type(value).__name__}")
    try:
        return enum(value.strip().lower())
    except ValueError:
        if lenient and default is not None:
            return default
        allowed = ", ".join(m.value for m in enum)
        raise InvalidEvent(name, f"must be one of {allowed}, not {value[:40]!r}") from None


def _when(payload: dict[str, Any], name: str) -> datetime | date | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidEvent(name, "must be an RFC 3339 timestamp or a YYYY-MM-DD date")
    text = value.strip()
    try:
        moment: datetime | date = (
            date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        )
    except ValueError:
        raise InvalidEvent(
            name, f"must be an RFC 3339 timestamp or a YYYY-MM-DD date, not {text!r}"
        ) from None
    # Year 1 or 9999 is a placeholder, not a date, and overflows once shifted to the display
    # time zone or by the 90 days before deletion (OverflowError while rendering).
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise InvalidEvent(name, f"is out of range (years {MIN_YEAR} to {MAX_YEAR})")
    if isinstance(moment, date) and not isinstance(moment, datetime):
        return moment
    # RFC 3339 requires an offset; a producer that leaves it out almost always means UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    """A validated failed-charge event."""

    event_id: str
    subscription_id: str
    admin_email: str
    amount: Decimal
    currency: str
    payment_method: PaymentMethod
    locale: str | None = None
    reason: FailureReason = FailureReason.UNKNOWN
    card_brand: str | None = None
    card_last4: str | None = None
    admin_name: str | None = None
    account_name: str | None = None
    subscription_name: str | None = None
    subscription_status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    failed_at: datetime | date | None = None
    due_date: datetime | date | None = None
    disable_at: datetime | date | None = None
    #: The billing system's invoice: with it, the sequence is this invoice's alone.
    invoice_id: str | None = None
    attempt: int | None = None  #: the billing system's attempt number (1, 2, …)
    next_retry_at: datetime | date | None = None  #: its next automatic retry
    payment_url: str | None = None  #: a per-customer link that replaces PAYMENT_URL
    timezone: str | None = None  #: the recipient's IANA time zone
    #: Fields the contract does not know: kept with the event, never used.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (contract field names; absent optional fields left out)."""
        out: dict[str, Any] = dict(self.extra)
        for key, value in asdict(self).items():
            if value is None or key == "extra":
                continue
            if isinstance(value, (datetime, date)):
                value = value.isoformat()
            elif isinstance(value, (Decimal, StrEnum)):
                value = str(value)
            out[key] = value
        return out


def parse_event(payload: Any) -> Event:
    """Validate ``payload`` (a decoded JSON value) against the contract, or raise InvalidEvent.

    The reason names the field at fault, so that a producer can fix it from the dead letter.
    """
    if not isinstance(payload, dict):
        raise InvalidEvent("", f"the event must be a JSON object, not {type(payload).__name__}")
    try:
        size = len(json.dumps(payload, ensure_ascii=False, default=str).encode())
    except UnicodeEncodeError:
        # JSON may escape a lone surrogate ("\ud800"): not text, and Redis refuses it.
        raise InvalidEvent(
            "",
            "the event holds a string that is not valid Unicode (a lone surrogate such as \\ud800)",
        ) from None
    except (TypeError, ValueError):
        raise InvalidEvent("", "the event is not serializable JSON") from None
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent("", f"the event is {size} bytes; the limit is {MAX_EVENT_BYTES}")
    card_path = find_card_number(payload)
    if card_path:
        raise InvalidEvent(card_path, "looks like a full card number; only card_last4 may be sent")
    expect_type(payload, EventType.CHARGE_FAILED)

    event_id = _text(payload, "event_id", required=True, max_chars=MAX_ID_CHARS)
    subscription_id = _text(payload, "subscription_id", required=True, max_chars=MAX_ID_CHARS)
    admin_email = normalize_address(payload.get("admin_email"))
    currency_raw = payload.get("currency")
    if not isinstance(currency_raw, str):
        raise InvalidEvent("currency", "is required: an ISO 4217 code such as TWD, USD or JPY")
    currency = currency_raw.strip().upper()
    if currency not in _CURRENCIES:
        raise InvalidEvent("currency", f"{currency_raw[:10]!r} is not an ISO 4217 currency code")
    amount = _amount(payload, currency)
    last4 = payload.get("card_last4")
    if last4 is not None and (not isinstance(last4, str) or not re.fullmatch(r"[0-9]{4}", last4)):
        raise InvalidEvent("card_last4", "must be exactly 4 digits, as a string")
    locale = payload.get("locale")
    if locale is not None and not isinstance(locale, str):
        raise InvalidEvent("locale", "must be a string such as zh-TW or en")

    assert event_id is not None and subscription_id is not None
    return Event(
        event_id=event_id,
        subscription_id=subscription_id,
        admin_email=admin_email,
        amount=amount,
        currency=currency,
        payment_method=_enum(payload, "payment_method", PaymentMethod, None),
        locale=locale[:64] if isinstance(locale, str) else None,
        # An unrecognized reason is not worth losing the notice over: the copy for "unknown"
        # is right for any failure, so it is used and the raw value stays in `extra`.
        reason=_enum(payload, "reason", FailureReason, FailureReason.UNKNOWN, lenient=True),
        card_brand=_text(payload, "card_brand", max_chars=32),
        card_last4=last4,
        admin_name=_text(payload, "admin_name"),
        account_name=_text(payload, "account_name"),
        subscription_name=_text(payload, "subscription_name"),
        subscription_status=_enum(
            payload, "subscription_status", SubscriptionStatus, SubscriptionStatus.ACTIVE
        ),
        failed_at=_when(payload, "failed_at"),
        due_date=_when(payload, "due_date"),
        disable_at=_when(payload, "disable_at"),
        invoice_id=_text(payload, "invoice_id", max_chars=MAX_ID_CHARS),
        attempt=fields.attempt(payload),
        next_retry_at=_when(payload, "next_retry_at"),
        payment_url=fields.payment_url(payload),
        timezone=fields.timezone(payload),
        extra={k: v for k, v in payload.items() if k not in KNOWN}
        | (
            {"reason_raw": payload["reason"]}
            if isinstance(payload.get("reason"), str)
            and payload["reason"].strip().lower() not in {m.value for m in FailureReason}
            else {}
        ),
    )


def decode(body: bytes | str) -> Any:
    """Decode a JSON document, raising InvalidEvent (not a JSON error) on bad input."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidEvent("", f"not valid JSON ({exc.__class__.__name__}: {exc})"[:200]) from None
