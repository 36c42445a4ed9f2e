"""SendGrid's Event Webhook: the ECDSA signature over timestamp + body, events mapped."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from worker.bounces.reasons import Reason
from worker.errors import ConfigurationError
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

SIGNATURE_HEADER: Final = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER: Final = "x-twilio-email-event-webhook-timestamp"

#: SendGrid's ``event`` names; "bounce" with ``type: blocked`` is told apart below.
TYPES: Final[Mapping[str, EventType | None]] = {
    "delivered": EventType.DELIVERED,
    "bounce": EventType.BOUNCED,
    "blocked": EventType.BOUNCED,
    "deferred": EventType.DEFERRED,
    "spamreport": EventType.COMPLAINED,
    "dropped": EventType.REJECTED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "processed": None,  # taken by SendGrid: our own "sent" says as much
    "unsubscribe": None,
    "group_unsubscribe": None,
    "group_resubscribe": None,
}
#: ``bounce_classification`` values that name a reason on their own.
CLASSIFICATIONS: Final[Mapping[str, Reason]] = {
    "Reputation": Reason.BADREPUTATION,
    "Content": Reason.SPAMDETECTED,
    "Frequency or Volume Too High": Reason.RATELIMITED,
}
#: A drop because SendGrid's own lists hold the address.
_SUPPRESSION_DROPS: Final = ("bounced address", "unsubscribed address", "spam reporting address")


def load_key(text: str) -> ec.EllipticCurvePublicKey:
    """SENDGRID_WEBHOOK_PUBLIC_KEY: base64 DER, an ECDSA P-256 public key."""
    try:
        key = load_der_public_key(base64.b64decode(text))
    except (ValueError, binascii.Error):
        raise ConfigurationError(
            "SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigurationError("SENDGRID_WEBHOOK_PUBLIC_KEY is not an ECDSA public key")
    return key


class SendGridEndpoint:
    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self.key = public_key

    def events(self, raw: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        signature = headers.get(SIGNATURE_HEADER, "")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        if not signature or not timestamp:
            raise Refused(Refusal.SIGNATURE, "no SendGrid signature or timestamp header")
        try:
            der = base64.b64decode(signature, validate=True)
            # Over the bytes as they came: a body parsed and written again does not verify.
            self.key.verify(der, timestamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, binascii.Error):
            raise Refused(Refusal.SIGNATURE, "the SendGrid signature does not verify") from None
        body = load_json(raw)
        if not isinstance(body, list):
            raise Refused(Refusal.MALFORMED, "a SendGrid webhook is a JSON array of events")
        return [e for e in (sendgrid_event(item) for item in body) if e is not None]


def sendgrid_event(item: Any) -> ProviderEvent | None:
    if not isinstance(item, dict):
        raise Refused(Refusal.MALFORMED, "a SendGrid event is a JSON object")
    name = str(item.get("event") or "")
    kind = TYPES.get(name)
    if kind is None:
        return None
    diagnostic = text_of(item.get("reason") or item.get("response"))
    status = text_of(item.get("status"))
    told: Reason | None = CLASSIFICATIONS.get(str(item.get("bounce_classification")))
    subtype = text_of(item.get("type") or item.get("bounce_classification"))
    if kind is EventType.REJECTED and any(
        d in (diagnostic or "").lower() for d in _SUPPRESSION_DROPS
    ):
        told = Reason.SUPPRESSED
    return ProviderEvent(
        provider=Provider.SENDGRID,
        type=kind,
        message_id=text_of(item.get("smtp-id")),
        recipient=text_of(item.get("email")),
        event_id=text_of(item.get("sg_event_id")),
        timestamp=str(item.get("timestamp") or ""),
        status=status if status and status[0] in "245" and "." in status else None,
        smtp_code=code_of(diagnostic),
        diagnostic=diagnostic,
        told=told,
        subtype=subtype,
        raw=item,
    )
