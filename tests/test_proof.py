"""Signed envelope senders."""

from __future__ import annotations

from worker.settings import Settings
from worker.smtp.proof import envelope_sender, verify


def test_returnpath_round_trip(settings: Settings) -> None:
    address = envelope_sender("0123456789abcdef0123", settings)
    assert address.startswith("bounces+0123456789abcdef0123.")
    assert address.endswith("@example.com")
    assert verify(address, settings) == "0123456789abcdef0123"
    assert verify(address.upper(), settings) == "0123456789abcdef0123"


def test_returnpath_forged_or_foreign_tokens_are_refused(settings: Settings) -> None:
    address = envelope_sender("0123456789abcdef0123", settings)
    forged = address.replace("0123456789abcdef0123", "ffff456789abcdef0123")
    assert verify(forged, settings) is None
    other_key = settings.with_(secret_key="another-secret")
    assert verify(address, other_key) is None
    assert verify(address.replace("@example.com", "@evil.example"), settings) is None
    assert verify("bounces@example.com", settings) is None


def test_returnpath_expired_token_is_refused(settings: Settings) -> None:
    old = envelope_sender("0123456789abcdef0123", settings, now=0)
    assert verify(old, settings) is None
