"""Test events and settings: one valid failed-charge event to vary, and the test secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
SECRET = "test-secret-0123456789abcdef"


def make_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "subscription_id": "sub-1",
        "admin_email": "admin@example.com",
        "amount": "1234.50",
        "currency": "TWD",
        "payment_method": "credit_card",
        "locale": "zh-TW",
        "reason": "card_declined",
        "card_brand": "Visa",
        "card_last4": "4242",
        "subscription_name": "Team plan",
        "failed_at": "2026-11-20T08:30:00Z",
    }
    event.update(overrides)
    if "event_id" in overrides and "subscription_id" not in overrides:
        # Events of one subscription join one sequence (one notice); tests that vary the
        # event id mean another failure with its own notice, so another subscription.
        event["subscription_id"] = f"sub-{overrides['event_id']}"
    return {k: v for k, v in event.items() if v is not None}
