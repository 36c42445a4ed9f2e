"""The contract of payment, void, cancellation and disabled-subscription events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from worker.errors import InvalidEvent
from worker.intake.cards import find_card_number
from worker.intake.events import MAX_EVENT_BYTES
from worker.intake.fields import amount_field, currency_code, id_field, when_field
from worker.intake.kinds import EventType, expect_type

KNOWN = ("type", "event_id", "subscription_id", "occurred_at", "invoice_id", "amount", "currency")


@dataclass(frozen=True)
class LifecycleEvent:
    """A validated payment_succeeded, invoice_voided, subscription_cancelled or
    subscription_disabled event."""

    type: EventType
    event_id: str
    subscription_id: str
    occurred_at: datetime
    invoice_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def occurred_epoch(self) -> float:
        return self.occurred_at.timestamp()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            type=str(self.type),
            event_id=self.event_id,
            subscription_id=self.subscription_id,
            occurred_at=self.occurred_at.isoformat(),
        )
        if self.invoice_id:
            out["invoice_id"] = self.invoice_id
        if self.amount is not None:
            out["amount"], out["currency"] = str(self.amount), self.currency
        return out


def parse_lifecycle(payload: Any, expected: EventType) -> LifecycleEvent:
    """Validate ``payload`` as an event of type ``expected``, or raise InvalidEvent."""
    if not isinstance(payload, dict):
        raise InvalidEvent("", f"the event must be a JSON object, not {type(payload).__name__}")
    try:
        size = len(json.dumps(payload, ensure_ascii=False, default=str).encode())
    except (TypeError, ValueError):
        raise InvalidEvent("", "the event is not serializable JSON") from None
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent("", f"the event is {size} bytes; the limit is {MAX_EVENT_BYTES}")
    card_path = find_card_number(payload)
    if card_path:
        raise InvalidEvent(card_path, "looks like a full card number; only card_last4 may be sent")
    kind = expect_type(payload, expected)
    # Ids are used exactly as given, as for a charge failure (worker.intake.fields).
    event_id = id_field(payload, "event_id")
    subscription_id = id_field(payload, "subscription_id")
    invoice_id = id_field(payload, "invoice_id") if payload.get("invoice_id") is not None else None
    occurred = when_field(payload, "occurred_at")
    if occurred is None:
        raise InvalidEvent("occurred_at", "is required: an RFC 3339 timestamp")
    if not isinstance(occurred, datetime):
        occurred = datetime(occurred.year, occurred.month, occurred.day, tzinfo=UTC)
    amount: Decimal | None = None
    currency: str | None = None
    if payload.get("amount") is not None or payload.get("currency") is not None:
        currency = currency_code(payload.get("currency"))
        amount = amount_field(payload, currency)
    return LifecycleEvent(
        type=kind,
        event_id=event_id,
        subscription_id=subscription_id,
        occurred_at=occurred,
        invoice_id=invoice_id,
        amount=amount,
        currency=currency,
        extra={k: v for k, v in payload.items() if k not in KNOWN},
    )


def as_date(value: datetime | date) -> datetime:
    """A date as midnight UTC, a timestamp as itself."""
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
