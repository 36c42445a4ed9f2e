"""The event contract."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.events import make_event
from worker.errors import InvalidEvent
from worker.intake.events import decode, parse_event


def test_events_valid_event_is_normalized() -> None:
    event = parse_event(make_event(currency="usd", admin_email="Admin@Example.COM", foo="bar"))
    assert event.currency == "USD"
    assert event.amount == Decimal("1234.50")
    assert event.admin_email == "Admin@example.com"
    assert event.extra == {"foo": "bar"}
    assert parse_event(event.to_dict()) == event


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event_id": None}, "event_id"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 129}, "event_id"),
        ({"subscription_id": 5}, "subscription_id"),
        ({"admin_email": "not-an-address"}, "admin_email"),
        ({"admin_email": "a@b.com\r\nBcc: x@y.com"}, "admin_email"),
        ({"admin_email": "ü@example.com"}, "admin_email"),
        ({"admin_email": "a" * 65 + "@example.com"}, "admin_email"),
        ({"amount": 12.5}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1e5"}, "amount"),
        ({"amount": "99999999999"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "10.5", "currency": "JPY"}, "amount"),
        ({"currency": "ZZZ"}, "currency"),
        ({"currency": None}, "currency"),
        ({"payment_method": "cash"}, "payment_method"),
        ({"card_last4": "12345"}, "card_last4"),
        ({"card_last4": 4242}, "card_last4"),
        ({"subscription_status": "paused"}, "subscription_status"),
        ({"failed_at": "yesterday"}, "failed_at"),
        ({"subscription_name": "x" * 10_000}, "subscription_name"),
        ({"locale": 7}, "locale"),
        ({"note": "card 4111 1111 1111 1111"}, "note"),
        ({"card_brand": "Visa 5555555555554444"}, "card_brand"),
    ],
)
def test_events_invalid_fields_are_named(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(
            make_event(**{k: v for k, v in overrides.items() if v is not None})
            | {k: v for k, v in overrides.items() if v is None}
        )
    assert caught.value.field == field


@pytest.mark.parametrize("payload", [[], "text", 5, None])
def test_events_non_object_payload_is_refused(payload: object) -> None:
    with pytest.raises(InvalidEvent, match="JSON object"):
        parse_event(payload)


def test_events_huge_event_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="bytes; the limit"):
        parse_event(make_event(blob="x" * 5_000_000))


def test_events_control_characters_in_names_become_spaces() -> None:
    event = parse_event(make_event(subscription_name="Team\r\nBcc: evil@example.com\x00"))
    assert event.subscription_name == "Team Bcc: evil@example.com"


def test_events_unknown_reason_falls_back_to_unknown_and_keeps_the_raw_value() -> None:
    event = parse_event(make_event(reason="stolen_card"))
    assert event.reason == "unknown"
    assert event.extra["reason_raw"] == "stolen_card"


def test_events_internationalized_domain_is_sent_as_idna() -> None:
    assert (
        parse_event(make_event(admin_email="a@bücher.example")).admin_email
        == "a@xn--bcher-kva.example"
    )


def test_events_id_like_digit_runs_that_fail_luhn_are_accepted() -> None:
    assert parse_event(make_event(subscription_id="1234567890123456")).subscription_id


def test_events_decode_turns_bad_json_into_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        decode(b"\xff\xfe{")


def test_events_every_problem_is_reported_not_only_the_first() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(make_event(amount="-1", currency="XXQ", card_last4="12", failed_at="soon"))
    assert [r.split(":")[0] for r in info.value.reasons] == [
        "currency",
        "amount",
        "card_last4",
        "failed_at",
    ]
    assert info.value.reason == "; ".join(info.value.reasons)
    assert info.value.field == "currency"


@pytest.mark.parametrize("event_id", ["a\tb", "a\u00a0b\n", " evt-1", "evt-1 ", "e\u200fv", "\x00"])
def test_events_id_is_used_as_given_or_refused(event_id: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(make_event(event_id=event_id))
    assert info.value.field == "event_id"


def test_events_id_is_kept_exactly() -> None:
    assert parse_event(make_event(event_id="a  b")).event_id == "a  b"
    assert parse_event(make_event(subscription_id="sub 1")).subscription_id == "sub 1"
