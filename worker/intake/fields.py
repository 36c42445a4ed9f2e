"""The checks of one event field each: a value as the contract takes it, or InvalidEvent."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from worker.errors import InvalidEvent

#: Display names longer than this are refused rather than cut (a cut name misleads).
MAX_NAME_CHARS = 256
MAX_ID_CHARS = 128
#: Amounts are refused above this: far beyond any real subscription charge, and a guard
#: against a misplaced field (a timestamp, an account number) sent as the amount.
MAX_AMOUNT = Decimal("1000000000")
#: Dates outside these years are refused (placeholders such as 0001-01-01 or 9999-12-31).
MIN_YEAR, MAX_YEAR = 1900, 2999


_CURRENCIES = frozenset(list_currencies())
# ASCII digits only: \d alone also matches "١٢٣" or "１２３", which Decimal() accepts.
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,4})?$", re.ASCII)


def text_field(
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


def id_field(payload: dict[str, Any], name: str) -> str:
    """An identifier, used exactly as given: anything that would need normalizing is refused.

    Cleaning an id the way a name is cleaned would merge distinct ids ("a\tb" and "a b"
    would be one notice, the second a silent duplicate) and make the producer's id and
    ours differ.
    """
    value = payload.get(name)
    if value is None:
        raise InvalidEvent(name, "is required")
    if not isinstance(value, str):
        raise InvalidEvent(name, f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidEvent(name, "is empty")
    if len(value) > MAX_ID_CHARS:
        raise InvalidEvent(name, f"is longer than {MAX_ID_CHARS} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise InvalidEvent(
            name, "contains control or invisible characters (tab, newline, NUL, bidi...)"
        )
    if value != value.strip():
        raise InvalidEvent(name, "starts or ends with white space")
    return value


def enum_field(
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


def amount_field(payload: dict[str, Any], currency: str | None) -> Decimal:
    value = payload.get("amount")
    if value is None:
        raise InvalidEvent("amount", "is required")
    if isinstance(value, bool) or not isinstance(value, str):
        raise InvalidEvent(
            "amount",
            'must be a decimal string such as "1234.50" '
            "(JSON numbers are refused: no floats for money)",
        )
    text = value.strip()
    if text.startswith("-"):
        raise InvalidEvent("amount", "must be positive")
    if not _AMOUNT.match(text):
        raise InvalidEvent(
            "amount", f'must be a decimal string such as "1234.50", not {text[:40]!r}'
        )
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes this
        raise InvalidEvent("amount", "is not a decimal number") from None
    if amount <= 0:
        raise InvalidEvent("amount", "must be greater than zero")
    if amount > MAX_AMOUNT:
        raise InvalidEvent("amount", f"is implausibly large (over {MAX_AMOUNT})")
    if currency is None:  # the currency is wrong too (said on its own): no precision to check
        return amount
    digits = get_currency_precision(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise InvalidEvent("amount", f"has more decimals than {currency} allows ({digits})")
    return amount


def currency_code(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEvent("currency", "is required: an ISO 4217 code such as TWD, USD or JPY")
    currency = value.strip().upper()
    if currency not in _CURRENCIES:
        raise InvalidEvent("currency", f"{value[:10]!r} is not an ISO 4217 currency code")
    return currency


def when_field(payload: dict[str, Any], name: str) -> datetime | date | None:
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
