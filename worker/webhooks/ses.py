"""Amazon SES events delivered by SNS: the envelope verified, SES's event mapped."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from worker.bounces.reasons import Reason
from worker.webhooks.sns import Certificates, Fetch, fetch_https, sns_url, verify_message
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

log = logging.getLogger(__name__)

#: SES's notification (``notificationType``) and event-publishing (``eventType``) names.
TYPES: Final[Mapping[str, EventType | None]] = {
    "Delivery": EventType.DELIVERED,
    "Bounce": EventType.BOUNCED,
    "DeliveryDelay": EventType.DEFERRED,
    "Complaint": EventType.COMPLAINED,
    "Reject": EventType.REJECTED,
    "Open": EventType.OPENED,
    "Click": EventType.CLICKED,
    "Send": None,  # accepted by SES: our own "sent" says as much
    "Rendering Failure": None,  # SES templates only; we send whole messages
    "Subscription": None,
}
#: SES's bounceSubType when it names the reason itself (others go by the diagnostic).
SUBTYPES: Final[Mapping[str, Reason]] = {
    "NoEmail": Reason.USERUNKNOWN,
    "Suppressed": Reason.SUPPRESSED,
    "OnAccountSuppressionList": Reason.SUPPRESSED,
    "MailboxFull": Reason.MAILBOXFULL,
    "MessageTooLarge": Reason.MESGTOOBIG,
}


class SesEndpoint:
    """Verifies one SNS POST and turns SES's event into ProviderEvents."""

    def __init__(
        self, topics: tuple[str, ...], certificates: Certificates, fetch: Fetch = fetch_https
    ) -> None:
        self.topics = topics
        self.certificates = certificates
        self.fetch = fetch

    def events(self, raw: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        body = load_json(raw)
        if (headers.get("x-amz-sns-rawdelivery") or "").lower() == "true" or not isinstance(
            body, dict
        ):
            raise Refused(
                Refusal.RAW_DELIVERY,
                "raw message delivery carries no signature: turn it off on the SNS subscription",
            )
        verify_message(body, self.certificates, self.topics)
        kind = body["Type"]
        if kind == "SubscriptionConfirmation":
            self._confirm(str(body.get("SubscribeURL") or ""))
            return []
        if kind == "UnsubscribeConfirmation":
            log.warning("ses webhook: SNS says this endpoint was unsubscribed from its topic")
            return []
        try:
            message = json.loads(str(body.get("Message")))
        except ValueError:
            raise Refused(Refusal.MALFORMED, "the SNS message does not hold SES's JSON") from None
        if not isinstance(message, dict):
            raise Refused(Refusal.MALFORMED, "the SNS message does not hold SES's JSON")
        event = ses_event(message, sns_id=str(body.get("MessageId") or ""))
        return [event] if event is not None else []

    def _confirm(self, url: str) -> None:
        # Only SNS's own host: a signed message still must not make us fetch anything else.
        if not sns_url(url):
            raise Refused(Refusal.CERT_URL, "the SubscribeURL is not an https SNS host")
        try:
            self.fetch(url)
        except (OSError, ValueError) as exc:
            raise Refused(Refusal.CERT, f"confirming the subscription failed ({exc})") from None
        log.info("ses webhook: SNS subscription confirmed")


def _message_id(mail: Mapping[str, Any]) -> str | None:
    """Our Message-ID: in the original headers SES returns (SES gives mail its own id)."""
    for header in mail.get("headers") or ():
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return text_of(header.get("value"))
    common = mail.get("commonHeaders")
    if isinstance(common, dict):
        return text_of(common.get("messageId"))
    return None


def ses_event(message: Mapping[str, Any], sns_id: str) -> ProviderEvent | None:
    """One SES event (notification or event publishing format) normalized; None when it is
    not about a notice's fate."""
    name = str(message.get("eventType") or message.get("notificationType") or "")
    if name not in TYPES:
        raise Refused(Refusal.MALFORMED, "not an SES event")
    kind = TYPES[name]
    if kind is None:
        return None
    mail = message.get("mail") if isinstance(message.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    detail_key = {"Delivery": "delivery", "DeliveryDelay": "deliveryDelay"}.get(name, name.lower())
    detail = message.get(detail_key) if isinstance(message.get(detail_key), dict) else {}
    assert isinstance(detail, dict)
    recipient, status, diagnostic, code, subtype, told = None, None, None, None, None, None
    if kind is EventType.BOUNCED:
        first = _first(detail.get("bouncedRecipients"))
        recipient = first.get("emailAddress")
        status = text_of(first.get("status"))
        diagnostic = text_of(first.get("diagnosticCode"))
        subtype = f"{detail.get('bounceType')}/{detail.get('bounceSubType')}"
        told = SUBTYPES.get(str(detail.get("bounceSubType")))
    elif kind is EventType.DEFERRED:
        first = _first(detail.get("delayedRecipients"))
        recipient = first.get("emailAddress")
        status = text_of(first.get("status"))
        diagnostic = text_of(first.get("diagnosticCode"))
        subtype = text_of(detail.get("delayType"))
    elif kind is EventType.COMPLAINED:
        recipient = _first(detail.get("complainedRecipients")).get("emailAddress")
        subtype = text_of(detail.get("complaintFeedbackType"))
        diagnostic = subtype
    elif kind is EventType.DELIVERED:
        recipients = detail.get("recipients") or []
        recipient = recipients[0] if isinstance(recipients, list) and recipients else None
        diagnostic = text_of(detail.get("smtpResponse"))
        code = code_of(diagnostic)
    elif kind is EventType.REJECTED:
        diagnostic = text_of(detail.get("reason"))
        told = Reason.VIRUSDETECTED if "virus" in (diagnostic or "").lower() else None
    if code is None and diagnostic and kind is not EventType.COMPLAINED:
        code = code_of(diagnostic)
    return ProviderEvent(
        provider=Provider.SES,
        type=kind,
        message_id=_message_id(mail),
        recipient=str(recipient) if recipient else None,
        event_id=sns_id or text_of(detail.get("feedbackId")),
        timestamp=str(detail.get("timestamp") or mail.get("timestamp") or ""),
        status=status,
        smtp_code=code,
        diagnostic=diagnostic,
        told=told,
        subtype=subtype,
        raw=dict(message),
    )


def _first(items: Any) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}
