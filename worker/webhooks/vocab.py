"""The one event vocabulary every provider's webhook is mapped to, and the typed event."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

from worker.bounces.reasons import Reason

#: A provider's raw event is kept in the notice's history cut to this many characters.
RAW_MAX: Final = 2000


class Provider(StrEnum):
    """The hosted relays whose webhooks are taken (the endpoint is /webhooks/<value>)."""

    SES = "ses"  #: Amazon SES, through an SNS topic
    SENDGRID = "sendgrid"  #: SendGrid's Event Webhook
    MAILGUN = "mailgun"  #: Mailgun's webhooks (JSON)
    POSTMARK = "postmark"  #: Postmark's webhooks


class EventType(StrEnum):
    """What a provider says became of a mail, normalized."""

    DELIVERED = "delivered"  #: the receiving server accepted it
    BOUNCED = "bounced"  #: the receiving server refused it, or gave up: a failure report
    DEFERRED = "deferred"  #: a temporary failure; the provider is still trying
    COMPLAINED = "complained"  #: the recipient marked it as spam (a feedback loop report)
    REJECTED = "rejected"  #: the provider itself would not send it (dropped, suppressed)
    OPENED = "opened"  #: the recipient opened it (tracking pixel): history only
    CLICKED = "clicked"  #: the recipient followed a link: history only


#: Events that only add a history entry: they never change a status or the suppression list.
HISTORY_ONLY: Final = frozenset({EventType.OPENED, EventType.CLICKED})


@dataclass(frozen=True)
class ProviderEvent:
    """One provider event, normalized; ``raw`` is the provider's own event as it came."""

    provider: Provider
    type: EventType
    #: Our Message-ID as the provider returns it (SES, SendGrid, Mailgun).
    message_id: str | None = None
    #: Our signed ENVID in the provider's metadata (Postmark's ``notice`` field).
    token: str | None = None
    recipient: str | None = None
    #: The provider's id of this event when it is stable across the provider's retries.
    event_id: str | None = None
    timestamp: str = ""  #: the provider's time of the event, as it wrote it
    status: str | None = None  #: an enhanced status code (5.1.1) when the provider gave one
    smtp_code: int | None = None
    diagnostic: str | None = None  #: the receiving server's or the provider's words
    #: The provider's own verdict, from its bounce type or subtype, when it names one.
    told: Reason | None = None
    #: The provider's bounce type/subtype as it wrote it (kept for the history).
    subtype: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def raw_text(self) -> str:
        """The raw event as compact JSON, cut to RAW_MAX characters."""
        text = json.dumps(self.raw, ensure_ascii=False, separators=(",", ":"), default=str)
        return text if len(text) <= RAW_MAX else text[: RAW_MAX - 1] + "…"


class Refusal(StrEnum):
    """Why a request, or one event of it, was refused (the metrics label)."""

    SIGNATURE = "signature"  #: the signature or the credentials do not verify
    CERT_URL = "cert-url"  #: the SNS signing certificate is not on an SNS host
    CERT = "cert"  #: the signing certificate could not be had or read
    TOPIC = "topic"  #: an SNS topic not in SES_TOPIC_ARNS
    RAW_DELIVERY = "raw-delivery"  #: an SNS subscription with raw message delivery on
    STALE = "stale"  #: a signed timestamp too far from now
    REPLAY = "replay"  #: a signing token already used
    MALFORMED = "malformed"  #: not JSON, or not the provider's shape
    NO_PROOF = "no-proof"  #: no value we signed ties the event to a notice
    FORGED = "forged"  #: a value shaped like ours whose signature does not verify
    NO_NOTICE = "no-notice"  #: proof for a notice that does not exist (expired, never sent)
    RECIPIENT = "recipient"  #: the event names another address than the notice's


#: The HTTP status each refusal is answered with.
HTTP_STATUS: Final[dict[Refusal, HTTPStatus]] = {
    Refusal.SIGNATURE: HTTPStatus.UNAUTHORIZED,
    Refusal.MALFORMED: HTTPStatus.BAD_REQUEST,
}


class Refused(Exception):
    """A request that fails verification: answered 401/403 (400 for a malformed body)."""

    def __init__(self, refusal: Refusal, why: str) -> None:
        super().__init__(why)
        self.refusal = refusal
        self.why = why

    @property
    def http_status(self) -> HTTPStatus:
        return HTTP_STATUS.get(self.refusal, HTTPStatus.FORBIDDEN)


def text_of(value: Any, limit: int = 500) -> str | None:
    """A provider's free-text field as one line, or None."""
    if value is None or value == "":
        return None
    flat = " ".join(str(value).split())
    return flat[:limit] or None


def code_of(value: Any) -> int | None:
    """An SMTP reply code given as a number or a string, or None."""
    try:
        code = int(str(value).strip()[:3])
    except (TypeError, ValueError):
        return None
    return code if 200 <= code < 600 else None


def load_json(raw: bytes) -> Any:
    """The request body as JSON, or Refused (malformed)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(Refusal.MALFORMED, "the body is not JSON") from None
