"""Money in an event: the amount as a decimal string, checked against its currency."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision

from worker.errors import InvalidEvent

#: Amounts are refused above this: far beyond any real subscription charge, and a guard
#: against a misplaced field (a timestamp, an account number) sent as the amount.
MAX_AMOUNT = Decimal("1000000000")
# ASCII digits only: \d alone also matches "١٢٣" or "１２３", which Decimal() accepts.
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,4})?$", re.ASCII)


def parse_amount(payload: dict[str, Any], currency: str) -> Decimal:
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
    digits = get_currency_precision(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise InvalidEvent("amount", f"has more decimals than {currency} allows ({digits})")
    return amount
