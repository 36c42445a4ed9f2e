"""The event types of the contract and the task each is delivered to."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from worker.errors import InvalidEvent


class EventType(StrEnum):
    CHARGE_FAILED = "charge_failed"  #: a charge failed: opens or joins a sequence
    PAYMENT_SUCCEEDED = "payment_succeeded"  #: the balance was paid: the sequence closes
    INVOICE_VOIDED = "invoice_voided"  #: the invoice was voided: nothing is owed
    SUBSCRIPTION_CANCELLED = "subscription_cancelled"  #: cancelled: no more reminders
    SUBSCRIPTION_DISABLED = "subscription_disabled"  #: the billing platform stopped the service

    @property
    def task(self) -> str:
        """The Celery task that takes events of this type (a public name)."""
        return f"notices.{self.value}"


#: The types that close a sequence (no notice of their own).
CLOSING: Final = frozenset(
    {EventType.PAYMENT_SUCCEEDED, EventType.INVOICE_VOIDED, EventType.SUBSCRIPTION_CANCELLED}
)


def event_type(payload: Any) -> EventType:
    """The event's ``type`` (``charge_failed`` when absent), or InvalidEvent."""
    value = payload.get("type") if isinstance(payload, dict) else None
    if value is None:
        return EventType.CHARGE_FAILED
    if not isinstance(value, str):
        raise InvalidEvent("type", f"must be a string, not {type(value).__name__}")
    try:
        return EventType(value.strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in EventType)
        raise InvalidEvent("type", f"must be one of {allowed}, not {value[:40]!r}") from None


def expect_type(payload: Any, expected: EventType) -> EventType:
    """The event's type, which must be the one the task it arrived on takes."""
    found = event_type(payload)
    if found is not expected:
        raise InvalidEvent(
            "type",
            f"is {found.value}, which does not match the task {expected.task} it arrived on "
            f"(publish it to {found.task})",
        )
    return found
