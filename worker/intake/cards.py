"""The card-number rule: find a full card number anywhere, and mask one wherever text is kept."""

from __future__ import annotations

import re
from typing import Any, Final

#: 13-19 digits, optionally grouped by single spaces or dashes: the shape of a card number
#: (also what dead letters mask and logs drop).
CARD_NUMBER_SHAPE: Final = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_card_number(value: Any, path: str = "") -> str | None:
    """Return the path of the first value anywhere in the event that holds a card number."""
    if isinstance(value, dict):
        for k, v in value.items():
            found = find_card_number(str(k), path) or find_card_number(
                v, f"{path}.{k}" if path else str(k)
            )
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = find_card_number(v, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        for match in CARD_NUMBER_SHAPE.finditer(str(value)):
            digits = re.sub(r"\D", "", match.group())
            # Card numbers always pass the Luhn check; most ids that merely have many
            # digits do not, so this keeps false refusals rare without letting a PAN in.
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                return path or "event"
    return None


def redact(text: str) -> str:
    """Mask every card-number-shaped digit run but its last four digits.

    An event refused for carrying a card number must not leave that number in Redis.
    """

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "*" * (len(digits) - 4) + digits[-4:]

    return CARD_NUMBER_SHAPE.sub(mask, text)


def remove(text: str) -> str:
    """Drop every card-number-shaped digit run (for logs, which keep no digits at all)."""
    return CARD_NUMBER_SHAPE.sub("[card number removed]", text)
