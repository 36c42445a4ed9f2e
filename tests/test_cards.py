"""The card-number rule: found whatever the separators, masked wherever anything is kept."""

from __future__ import annotations

import json
import re
from typing import Any

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.events import make_event
from worker.errors import InvalidEvent
from worker.intake.cards import find_card_number, has_card_number, luhn_ok, redact, remove
from worker.intake.events import parse_event
from worker.notices.deadletters import DeadLetters

CARD = "4111111111111111"
#: What people and systems put between the digit groups of a card number.
SEPARATORS = [
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u00a0",
    "\u2007",
    "\u202f",
    "\u3000",
    "-",
    "–",
    ".",
    "/",
    "\u200b",
    "\ufeff",
    "\u00ad",
    "\x00",
    "\x1f",
    " - ",
    "·",
]


def _luhn_digits(body: str) -> str:
    """``body`` plus the check digit that makes it pass the Luhn check."""
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


@st.composite
def written_card_numbers(draw: Any) -> tuple[str, str]:
    """A Luhn-valid number of 13-19 digits, split into groups by random separators."""
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    digits = _luhn_digits("4" + body[1:])
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(digits) - 1), max_size=6)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in groups[1:]]
    written = groups[0] + "".join(s + g for s, g in zip(seps, groups[1:], strict=True))
    return digits, written


def _only_digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


@pytest.mark.parametrize("sep", SEPARATORS)
def test_cards_found_with_every_separator(sep: str) -> None:
    written = sep.join([CARD[0:4], CARD[4:8], CARD[8:12], CARD[12:16]])
    assert has_card_number(f"Hello {written},")
    assert CARD not in _only_digits(redact(f"Hello {written},"))


@pytest.mark.parametrize(
    "value",
    [
        4111111111111111,
        4111111111111111.0,
        4.111111111111111e15,
        "４１１１ １１１１ １１１１ １１１１",
        "4111111111111111 12/27",
        "4111-1111-1111-1111 cvv 123",
    ],
)
def test_cards_found_in_every_scalar_form(value: Any) -> None:
    assert find_card_number({"nested": [{"pan": value}]}) == "nested[0].pan"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T08:30:00Z",
        "2026-11-20 08:30:00",
        "0912 345 678",
        "+886 2 2345 6789",
        "INV-2026-000123",
        "1234.50",
        1234567890123,
        "sub_1234567890",
        "4111",
    ],
)
def test_cards_ordinary_numbers_pass(value: Any) -> None:
    assert find_card_number({"v": value}) is None


@given(
    written_card_numbers(),
    st.sampled_from(["admin_name", "account_name", "subscription_name", "event_id", "custom"]),
)
@settings(max_examples=300, deadline=None)
def test_cards_property_written_numbers_are_refused_and_masked(
    card: tuple[str, str], field: str
) -> None:
    digits, written = card
    event = make_event(**{field: f"Team {written} plan"})
    with pytest.raises(InvalidEvent) as refused:
        parse_event(event)
    assert "card number" in str(refused.value)
    dead = DeadLetters(fakeredis.FakeRedis(decode_responses=True))
    dead_id = dead.add(
        event, refused.value.reason, refused.value.field, "queue", event.get("event_id")
    )
    stored = json.dumps(dead.get(dead_id), ensure_ascii=False)
    assert digits not in _only_digits(stored)
    assert digits not in _only_digits(remove(f"log line about {written}"))


def test_cards_dead_letter_event_id_and_reason_are_masked() -> None:
    event = make_event(event_id=f"evt {CARD}")
    with pytest.raises(InvalidEvent) as refused:
        parse_event(event)
    dead = DeadLetters(fakeredis.FakeRedis(decode_responses=True))
    record = (
        dead.get(
            dead.add(event, refused.value.reason, refused.value.field, "queue", event["event_id"])
        )
        or {}
    )
    assert CARD not in json.dumps(record)
    assert record["event_id"].endswith("1111") and "*" in record["event_id"]


def test_cards_keys_holding_a_card_number_are_refused() -> None:
    with pytest.raises(InvalidEvent):
        parse_event(make_event(extra={CARD: "x"}))
