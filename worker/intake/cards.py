"""The card-number rule: find a full card number anywhere, and mask one wherever text is kept.

A card number (PAN) is 13 to 19 digits that pass the Luhn check. People and systems write
them in groups, separated by spaces (also non-breaking or thin ones), tabs, line breaks,
dashes, dots or slashes, and a copy-paste can carry zero-width characters between the
digits. Whatever the separators, a notice renders the name with its whitespace collapsed,
so "4111<TAB>1111 1111\\u00a01111" would read as a card number in the mail: detection
therefore looks at digit groups joined by any run of separators, and at every run of
whole groups that holds 13 to 19 digits (a PAN followed by an expiry date or a CVV is
still found).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

PAN_MIN, PAN_MAX = 13, 19
#: Characters that may stand between the digit groups of a written card number: any
#: whitespace (no-break and ideographic spaces included), control characters (a notice
#: turns them into spaces), invisible format characters (zero-width space, joiners, soft
#: hyphen, BOM), dashes, dots, slashes and bullets.
_SEPARATOR: Final = (
    r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2060-\u2064\ufeff"
    r"\-\u2010-\u2015\u2212./_\\\u00b7\u2022\u2219\u22c5\u30fb]"
)
#: Digit groups joined by separators (on text whose digits were made ASCII, see _digits).
_GROUPS: Final = re.compile(rf"(?<![0-9])[0-9]+(?:{_SEPARATOR}+[0-9]+)*(?![0-9])")
_DIGITS: Final = re.compile(r"[0-9]+")
#: Logs keep no long digit runs at all (no Luhn check: a log line is never needed whole).
CARD_NUMBER_SHAPE: Final = re.compile(rf"(?<![0-9])(?:[0-9]{_SEPARATOR}*){{12,18}}[0-9](?![0-9])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


#: JSON string escapes: inside a stored payload, "4111\\t1111..." is a tab between groups.
_ESCAPE: Final = re.compile(r"\\(?:u[0-9a-fA-F]{4}|[tnrfb/\\\"])")


def _digits(text: str) -> str:
    """``text`` as detection reads it, one character for one (positions are kept, so that
    masking can use them): every decimal digit written as its ASCII digit, and every JSON
    escape written as spaces.

    Full-width digits ("４１１１", as an IME types them) read as a card number in a mail
    just as well; a dead letter keeps its payload as JSON text, where a tab between two
    groups is written as backslash and t.
    """
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: " " * len(m.group()), text)
    if text.isascii():
        return text
    return "".join(
        str(d) if not c.isascii() and (d := unicodedata.decimal(c, None)) is not None else c
        for c in text
    )


def card_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of every card number in ``text`` (positions in ``text``)."""
    for run in _GROUPS.finditer(_digits(text)):
        groups = list(_DIGITS.finditer(run.group()))
        found_to = -1
        for first in range(len(groups)):
            if first <= found_to:
                continue
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last].group()
                if len(digits) > PAN_MAX:
                    break
                if len(digits) >= PAN_MIN and luhn_ok(digits):
                    yield (
                        run.start() + groups[first].start(),
                        run.start() + groups[last].end(),
                        digits,
                    )
                    found_to = last
                    break


def has_card_number(text: str) -> bool:
    return next(card_spans(text), None) is not None


def _scalar_texts(value: Any) -> list[str]:
    """The texts a scalar could be read as: a float's whole digits, not its repr."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return []
        # 4111111111111111.0 is read as 4111111111111111 by anything that rounds it, and its
        # repr may be 4.111111111111111e+15: look at the whole digits.
        return [format(Decimal(value).to_integral_value(), "f")]
    if isinstance(value, str):
        return [value]
    return []


def find_card_number(value: Any, path: str = "") -> str | None:
    """The path of the first value (or key) anywhere in the event holding a card number."""
    if isinstance(value, dict):
        for k, v in value.items():
            if has_card_number(str(k)):
                return path or "event"
            found = find_card_number(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = find_card_number(v, f"{path}[{i}]")
            if found:
                return found
    elif any(has_card_number(t) for t in _scalar_texts(value)):
        return path or "event"
    return None


def redact(text: str) -> str:
    """Every card number in ``text`` masked to its last four digits (``************1111``).

    An event refused for carrying a card number must not leave that number in Redis, in a
    dead letter, in a page or in a log.
    """
    out: list[str] = []
    at = 0
    for start, end, digits in card_spans(text):
        out.append(text[at:start])
        out.append("*" * (len(digits) - 4) + digits[-4:])
        at = end
    out.append(text[at:])
    # A float written by a JSON encoder ("4111111111111111.0") is a PAN and a fraction:
    # the dot is a separator, so the PAN is a window of whole groups and is masked too.
    return "".join(out)


def remove(text: str) -> str:
    """Drop every card-number-shaped digit run (for logs, which keep no such digits at all)."""
    # Positions of _digits() are those of the text: match there, cut here.
    ascii_digits = _digits(text)
    out: list[str] = []
    at = 0
    for match in CARD_NUMBER_SHAPE.finditer(ascii_digits):
        out += [text[at : match.start()], "[card number removed]"]
        at = match.end()
    return "".join([*out, text[at:]])
