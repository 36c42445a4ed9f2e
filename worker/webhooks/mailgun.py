"""Mailgun's webhooks: HMAC of timestamp + token, fresh and used once; events mapped."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from worker.bounces.reasons import Reason
from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.webhooks.vocab import (
    EventType,
    Provider,
    ProviderEvent,
    Refusal,
    Refused,
    code_of,
    load_json,
    text_of,
)

#: A signature older (or further ahead) than this is refused: a captured request replayed
#: later does not verify.
MAX_AGE: Final = 300

TYPES: Final[Mapping[str, EventType | None]] = {
    "delivered": EventType.DELIVERED,
    "failed": EventType.BOUNCED,  # "temporary" severity: deferred, see below
    "complained": EventType.COMPLAINED,
    "rejected": EventType.REJECTED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "accepted": None,
    "unsubscribed": None,
    "stored": None,
}
#: Mailgun's ``reason`` for a failure it made itself (its suppression lists).
REASONS: Final[Mapping[str, Reason]] = {
    "suppress-bounce": Reason.SUPPRESSED,
    "suppress-unsubscribe": Reason.SUPPRESSED,
    "suppress-complaint": Reason.SUPPRESSED,
}


class MailgunEndpoint:
    def __init__(
        self, signing_key: str, client: RedisClient, clock: Callable[[], float] = time.time
    ) -> None:
        self.key = signing_key.encode()
        self.r = client
        self.clock = clock

    def events(self, raw: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        body = load_json(raw)
        signed = body.get("signature") if isinstance(body, dict) else None
        if not isinstance(signed, dict):
            raise Refused(Refusal.SIGNATURE, "no Mailgun signature object")
        timestamp = str(signed.get("timestamp") or "")
        token = str(signed.get("token") or "")
        given = str(signed.get("signature") or "")
        want = hmac.new(self.key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
        if not token or not hmac.compare_digest(want, given.lower()):
            raise Refused(Refusal.SIGNATURE, "the Mailgun signature does not verify")
        try:
            age = self.clock() - int(timestamp)
        except ValueError:
            raise Refused(Refusal.SIGNATURE, "the Mailgun timestamp is not a number") from None
        if abs(age) > MAX_AGE:
            raise Refused(Refusal.STALE, "the Mailgun signature is older than 5 minutes")
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        # Kept past the age limit, so a token is refused for as long as it could verify.
        if not self.r.set(keys.webhook_token("mailgun", digest), "1", nx=True, ex=3 * MAX_AGE):
            raise Refused(Refusal.REPLAY, "the Mailgun token was already used")
        data = body.get("event-data")
        if not isinstance(data, dict):
            raise Refused(Refusal.MALFORMED, "no Mailgun event-data")
        event = mailgun_event(data)
        return [event] if event is not None else []


def mailgun_event(data: Mapping[str, Any]) -> ProviderEvent | None:
    kind = TYPES.get(str(data.get("event") or ""))
    if kind is None:
        return None
    if kind is EventType.BOUNCED and data.get("severity") == "temporary":
        kind = EventType.DEFERRED
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    assert isinstance(message, dict)
    found = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    assert isinstance(found, dict)
    delivery = data.get("delivery-status")
    delivery = delivery if isinstance(delivery, dict) else {}
    diagnostic = text_of(delivery.get("message") or delivery.get("description"))
    status = text_of(delivery.get("enhanced-code"))
    reason = str(data.get("reason") or "")
    return ProviderEvent(
        provider=Provider.MAILGUN,
        type=kind,
        message_id=text_of(found.get("message-id")),
        recipient=text_of(data.get("recipient")),
        event_id=text_of(data.get("id")),
        timestamp=str(data.get("timestamp") or ""),
        status=status,
        smtp_code=code_of(delivery.get("code")),
        diagnostic=diagnostic,
        told=REASONS.get(reason),
        subtype=f"{data.get('severity') or ''}/{reason}".strip("/") or None,
        raw=dict(data),
    )
