"""Payment, void, cancellation and disabled events to vary, for sequence tests."""

from __future__ import annotations

from typing import Any


def make_payment(**overrides: Any) -> dict[str, Any]:
    """A payment_succeeded event for the subscription of ``make_event()``."""
    event: dict[str, Any] = {
        "type": "payment_succeeded",
        "event_id": "pay-1",
        "subscription_id": "sub-1",
        "occurred_at": "2026-11-21T09:00:00Z",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}
