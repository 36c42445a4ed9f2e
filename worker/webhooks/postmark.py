"""Postmark's webhooks: basic auth, tie-back by our signed token in its metadata."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any, Final

from worker.bounces.reasons import Reason
from worker.webhooks.vocab import (
    EventType,
    Provider,
    ProviderEvent,
    Refusal,
    Refused,
    load_json,
    text_of,
)

#: The metadata field the X-PM-Metadata-notice header becomes.
METADATA_FIELD: Final = "notice"

#: ``RecordType`` values, with the bounce ``Type`` read below for bounces.
RECORD_TYPES: Final[Mapping[str, EventType | None]] = {
    "Delivery": EventType.DELIVERED,
    "Bounce": EventType.BOUNCED,
    "SpamComplaint": EventType.COMPLAINED,
    "Open": EventType.OPENED,
    "Click": EventType.CLICKED,
    "SubscriptionChange": None,
}
#: Bounce ``Type`` values: the event each is, and the reason when the type names one.
BOUNCE_TYPES: Final[Mapping[str, tuple[EventType | None, Reason | None]]] = {
    "HardBounce": (EventType.BOUNCED, None),
    "SoftBounce": (EventType.BOUNCED, None),
    "Transient": (EventType.DEFERRED, None),
    "DnsError": (EventType.BOUNCED, Reason.HOSTUNKNOWN),
    "BadEmailAddress": (EventType.BOUNCED, Reason.USERUNKNOWN),
    "Blocked": (EventType.BOUNCED, Reason.BLOCKED),
    "SpamNotification": (EventType.BOUNCED, Reason.SPAMDETECTED),
    "VirusNotification": (EventType.BOUNCED, Reason.VIRUSDETECTED),
    "SpamComplaint": (EventType.COMPLAINED, None),
    "ManuallyDeactivated": (EventType.REJECTED, Reason.SUPPRESSED),
    "Unsubscribe": (EventType.REJECTED, Reason.SUPPRESSED),
    "AutoResponder": (None, None),
    "Subscribe": (None, None),
    "AddressChange": (None, None),
    "OpenRelayTest": (None, None),
    "ChallengeVerification": (None, None),
}
#: The time field of each record type.
_TIMES: Final = ("BouncedAt", "DeliveredAt", "ReceivedAt", "ChangedAt")


class PostmarkEndpoint:
    def __init__(self, user: str, password: str) -> None:
        self.expected = f"{user}:{password}".encode()

    def events(self, raw: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        self._check_auth(headers.get("authorization", ""))
        body = load_json(raw)
        if not isinstance(body, dict):
            raise Refused(Refusal.MALFORMED, "a Postmark webhook is one JSON object")
        event = postmark_event(body)
        return [event] if event is not None else []

    def _check_auth(self, header: str) -> None:
        scheme, _, value = header.partition(" ")
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            given = b""
        # Compared whole, in constant time: neither the user nor the password leaks by timing.
        if scheme.lower() != "basic" or not hmac.compare_digest(given, self.expected):
            raise Refused(Refusal.SIGNATURE, "Postmark basic auth does not match")


def postmark_event(body: Mapping[str, Any]) -> ProviderEvent | None:
    record_type = str(body.get("RecordType") or "")
    if record_type not in RECORD_TYPES:
        raise Refused(Refusal.MALFORMED, "not a Postmark webhook (no known RecordType)")
    kind = RECORD_TYPES[record_type]
    told: Reason | None = None
    bounce_type = text_of(body.get("Type"))
    if record_type in ("Bounce", "SpamComplaint"):
        kind, told = BOUNCE_TYPES.get(bounce_type or "", (EventType.BOUNCED, None))
    if kind is None:
        return None
    metadata = body.get("Metadata") if isinstance(body.get("Metadata"), dict) else {}
    assert isinstance(metadata, dict)
    # Bounce and complaint ids are Postmark's and stable across its retries; deliveries,
    # opens and clicks have none, so they dedupe on (token, type, time).
    event_id = body.get("ID") if record_type in ("Bounce", "SpamComplaint") else None
    return ProviderEvent(
        provider=Provider.POSTMARK,
        type=kind,
        token=text_of(metadata.get(METADATA_FIELD)),
        recipient=text_of(body.get("Email") or body.get("Recipient")),
        event_id=str(event_id) if event_id is not None else None,
        timestamp=next((str(body[t]) for t in _TIMES if body.get(t)), ""),
        diagnostic=text_of(body.get("Details") or body.get("Description")),
        told=told,
        subtype=bounce_type,
        raw=dict(body),
    )
