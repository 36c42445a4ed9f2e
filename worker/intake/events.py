"""The event contract: parse and validate one failed-charge event, with no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from worker.errors import InvalidEvent
from worker.intake import sequence_fields
from worker.intake.addresses import normalize_address
from worker.intake.cards import find_card_number
from worker.intake.fields import (
    amount_field,
    currency_code,
    enum_field,
    id_field,
    text_field,
    when_field,
)
from worker.intake.kinds import EventType, expect_type

#: Larger events are refused: a real failed-charge event is well under 4 KiB.
MAX_EVENT_BYTES = 64 * 1024


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
    problems: list[InvalidEvent] = []

    def check(parse: Callable[..., Any], *args: Any) -> Any:
        """``parse(*args)``, or None with its problem kept: every problem is reported."""
        try:
            return parse(*args)
        except InvalidEvent as exc:
            problems.append(exc)
            return None

    card_path = find_card_number(payload)
    if card_path:
        problems.append(
            InvalidEvent(card_path, "looks like a full card number; only card_last4 may be sent")
        )
    check(expect_type, payload, EventType.CHARGE_FAILED)
    event_id = check(id_field, payload, "event_id")
    subscription_id = check(id_field, payload, "subscription_id")
    # Optional, but a sequence's key when given: used exactly as given, as the other ids.
    invoice_id = (
        check(id_field, payload, "invoice_id") if payload.get("invoice_id") is not None else None
    )
    sequence = {
        "attempt": check(sequence_fields.attempt, payload),
        "next_retry_at": check(when_field, payload, "next_retry_at"),
        "payment_url": check(sequence_fields.payment_url, payload),
        "timezone": check(sequence_fields.timezone, payload),
    }
    admin_email = check(normalize_address, payload.get("admin_email"))
    currency = check(currency_code, payload.get("currency"))
    amount = check(amount_field, payload, currency)
    last4 = payload.get("card_last4")
    if last4 is not None and (not isinstance(last4, str) or not re.fullmatch(r"[0-9]{4}", last4)):
        problems.append(InvalidEvent("card_last4", "must be exactly 4 digits, as a string"))
    locale = payload.get("locale")
    if locale is not None and not isinstance(locale, str):
        problems.append(InvalidEvent("locale", "must be a string such as zh-TW or en"))
    payment_method = check(enum_field, payload, "payment_method", PaymentMethod, None)
    names = {n: check(text_field, payload, n) for n in ("admin_name", "account_name")}
    names["subscription_name"] = check(text_field, payload, "subscription_name")
    card_brand = check(lambda: text_field(payload, "card_brand", max_chars=32))
    status = check(
        enum_field, payload, "subscription_status", SubscriptionStatus, SubscriptionStatus.ACTIVE
    )
    dates = {n: check(when_field, payload, n) for n in ("failed_at", "due_date", "disable_at")}
    if problems:
        raise InvalidEvent.of(problems)

    return Event(
        event_id=event_id,
        subscription_id=subscription_id,
        admin_email=admin_email,
        amount=amount,
        currency=currency,
        payment_method=payment_method,
        locale=locale[:64] if isinstance(locale, str) else None,
        # An unrecognized reason is not worth losing the notice over: the copy for "unknown"
        # is right for any failure, so it is used and the raw value stays in `extra`.
        reason=enum_field(payload, "reason", FailureReason, FailureReason.UNKNOWN, lenient=True),
        card_brand=card_brand,
        card_last4=last4,
        admin_name=names["admin_name"],
        account_name=names["account_name"],
        subscription_name=names["subscription_name"],
        subscription_status=status,
        failed_at=dates["failed_at"],
        due_date=dates["due_date"],
        disable_at=dates["disable_at"],
        invoice_id=invoice_id,
        **sequence,
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
