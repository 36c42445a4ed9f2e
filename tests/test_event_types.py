"""The event types: the sequence fields of charge_failed, the other types' contract, routing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.sequences import make_payment
from worker.errors import InvalidEvent
from worker.intake import producer
from worker.intake.events import parse_event
from worker.intake.kinds import EventType
from worker.intake.lifecycle import parse_lifecycle
from worker.runtime.poison import ARITY


def test_event_types_charge_failed_takes_the_sequence_fields() -> None:
    event = parse_event(
        make_event(
            type="charge_failed",
            invoice_id="in_123",
            attempt=2,
            next_retry_at="2026-11-23T08:30:00Z",
            payment_url="https://pay.example.com/i/abc?t=1",
            timezone="Asia/Taipei",
        )
    )
    assert (event.invoice_id, event.attempt, event.timezone) == ("in_123", 2, "Asia/Taipei")
    assert event.payment_url == "https://pay.example.com/i/abc?t=1"
    assert event.next_retry_at is not None and event.next_retry_at.day == 23
    assert "type" not in event.extra


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("payment_url", "http://pay.example.com/x", "https"),
        ("payment_url", "https://pay.example.com/a b", "spaces"),
        ("payment_url", "https://user:pw@pay.example.com/", "password"),
        ("payment_url", "https://localhost/x", "host"),
        ("payment_url", "https://pay.example.com/" + "a" * 3000, "longer than"),
        ("payment_url", "javascript:alert(1)", "https"),
        ("attempt", 0, "between"),
        ("attempt", "2", "whole number"),
        ("attempt", True, "whole number"),
        ("timezone", "Mars/Olympus", "IANA"),
        ("next_retry_at", "soon", "RFC 3339"),
        ("type", "charge_maybe", "must be one of"),
        ("type", "payment_succeeded", "does not match the task notices.charge_failed"),
    ],
)
def test_event_types_bad_sequence_fields_are_refused_naming_the_field(
    field: str, value: Any, words: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(make_event(**{field: value}))
    assert caught.value.field == field and words in caught.value.reason


@pytest.mark.parametrize("kind", [t for t in EventType if t is not EventType.CHARGE_FAILED])
def test_event_types_lifecycle_events_parse_with_their_contract(kind: EventType) -> None:
    event = parse_lifecycle(
        make_payment(type=kind.value, invoice_id="in-1", amount="10.00", currency="usd"), kind
    )
    assert event.type is kind and event.invoice_id == "in-1" and event.currency == "USD"
    assert event.occurred_epoch > 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"occurred_at": None}, "occurred_at"),
        ({"event_id": None}, "event_id"),
        ({"subscription_id": ""}, "subscription_id"),
        ({"amount": 10, "currency": "USD"}, "amount"),
        ({"amount": "10.00", "currency": "ZZZ"}, "currency"),
        ({"note": "4111 1111 1111 1111"}, "note"),
    ],
)
def test_event_types_bad_payment_events_are_refused(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_lifecycle(make_payment(**overrides), EventType.PAYMENT_SUCCEEDED)
    assert caught.value.field == field


def test_event_types_publish_routes_each_event_to_its_type_task() -> None:
    sent: list[tuple[str, Any]] = []

    class App:
        def send_task(self, name: str, args: list[Any], **kw: Any) -> None:
            sent.append((name, args[0]["event_id"]))

    for payload in (
        make_event(),
        make_payment(),
        make_payment(type="invoice_voided", event_id="v"),
        make_payment(type="subscription_cancelled", event_id="c"),
        make_payment(type="subscription_disabled", event_id="d"),
    ):
        producer.publish(App(), payload)
    assert sent == [
        ("notices.charge_failed", "evt-1"),
        ("notices.payment_succeeded", "pay-1"),
        ("notices.invoice_voided", "v"),
        ("notices.subscription_cancelled", "c"),
        ("notices.subscription_disabled", "d"),
    ]
    assert producer.check(producer.Item(0, make_payment(occurred_at=None))) is not None
    assert producer.check(producer.Item(0, make_payment())) is None


def test_event_types_every_event_task_takes_exactly_one_argument() -> None:
    for kind in EventType:
        rule = ARITY[kind.task]
        assert rule([{}], {}) is None
        assert kind.task in (rule([{}, {}], {}) or "")
