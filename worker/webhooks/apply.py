"""Tie each verified provider event to its notice by a value we signed, once, and apply it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from worker import metrics
from worker.bounces.ingest import BounceProcessor, Outcome
from worker.bounces.parse_values import Report
from worker.bounces.reasons import Kind, Reason, classify, kind_for
from worker.intake.addresses import key as address_key
from worker.notices import keys
from worker.notices.store import Tracker
from worker.settings import Settings
from worker.smtp.proof import (
    envelope_id_candidate,
    message_id_candidate,
    verify_envelope_id,
    verify_message_id,
)
from worker.webhooks.vocab import HISTORY_ONLY, EventType, ProviderEvent, Refusal, Refused

log = logging.getLogger(__name__)

#: An applied event is remembered this long: longer than any provider retries (SendGrid
#: for 72 hours, SNS and Mailgun for less).
DEDUPE_SECONDS: Final = 7 * 86400

#: The report action each event becomes, as a DSN's would (see BounceProcessor.apply).
ACTIONS: Final[dict[EventType, str]] = {
    EventType.DELIVERED: "delivered",
    EventType.BOUNCED: "failed",
    EventType.REJECTED: "failed",
    EventType.DEFERRED: "delayed",
    EventType.COMPLAINED: "complaint",
}


class Done(StrEnum):
    """What became of one event."""

    APPLIED = "applied"  #: tied to its notice and applied
    DUPLICATE = "duplicate"  #: already applied (a provider's retry): nothing done again
    IGNORED = "ignored"  #: not about a notice's fate (an open without our Message-ID, say)
    REFUSED = "refused"  #: no proof, forged proof, no such notice or another recipient


@dataclass
class Result:
    """What one request's events did."""

    done: list[tuple[ProviderEvent, Done]] = field(default_factory=list)
    refusals: list[Refused] = field(default_factory=list)

    def count(self, what: Done) -> int:
        return sum(d is what for _, d in self.done)

    def summary(self) -> dict[str, int]:
        return {str(d): self.count(d) for d in Done}


def dedupe_key(event: ProviderEvent, notice_id: str) -> str:
    """The provider's stable event id, else (notice, type, the provider's timestamp)."""
    named = event.message_id or event.token or notice_id
    basis = event.event_id or "|".join((named, str(event.type), event.timestamp))
    digest = hashlib.sha256(basis.encode()).hexdigest()[:32]
    return keys.webhook_event(str(event.provider), digest)


class WebhookApplier:
    """Applies verified provider events through the same paths as DSNs and ARF reports."""

    def __init__(self, processor: BounceProcessor, settings: Settings) -> None:
        self.processor = processor
        self.tracker: Tracker = processor.tracker
        self.settings = settings

    def apply_all(self, events: Iterable[ProviderEvent]) -> Result:
        result = Result()
        for event in events:
            try:
                done = self.apply_one(event)
            except Refused as exc:
                refuse(str(event.provider), exc, event.type)
                result.refusals.append(exc)
                done = Done.REFUSED
            metrics.WEBHOOK_EVENTS.labels(
                provider=str(event.provider), event=str(event.type), outcome=str(done)
            ).inc()
            result.done.append((event, done))
        return result

    def notice_for(self, event: ProviderEvent) -> str | None:
        """The notice our signed value in the event names (None: the event carries none)."""
        settings = self.settings
        if event.token:
            if not envelope_id_candidate(event.token):
                return None
            found = verify_envelope_id(event.token, settings)
            if found is None:
                raise Refused(Refusal.FORGED, "the notice token does not verify")
            return found.notice_id
        if event.message_id:
            value = event.message_id.strip()
            if not value.startswith("<"):
                value = f"<{value}>"  # Mailgun gives it without angle brackets
            if not message_id_candidate(value):
                return None
            found = verify_message_id(value, settings)
            if found is None:
                raise Refused(Refusal.FORGED, "the Message-ID's signature does not verify")
            return found.notice_id
        return None

    def apply_one(self, event: ProviderEvent) -> Done:
        notice_id = self.notice_for(event)
        if notice_id is None:
            if event.type in HISTORY_ONLY:
                return Done.IGNORED
            raise Refused(Refusal.NO_PROOF, "no Message-ID or token of ours in the event")
        record = self.tracker.get(notice_id)
        if record is None:
            raise Refused(
                Refusal.NO_NOTICE, "proof for a notice that does not exist (expired or never sent)"
            )
        if event.recipient and address_key(event.recipient) != address_key(record.get("to", "")):
            raise Refused(Refusal.RECIPIENT, "the event names another address than the notice's")
        key = dedupe_key(event, notice_id)
        if not self.tracker.r.set(key, "1", nx=True, ex=DEDUPE_SECONDS):
            return Done.DUPLICATE
        try:
            self._apply(notice_id, record, event)
        except BaseException:
            self.tracker.r.delete(key)  # not applied: the provider's retry may try again
            raise
        return Done.APPLIED

    def _apply(self, notice_id: str, record: dict[str, str], event: ProviderEvent) -> None:
        extra: dict[str, Any] = {
            "webhook": {
                "provider": str(event.provider),
                "event": str(event.type),
                "event_id": event.event_id,
                "at": event.timestamp or None,
                "subtype": event.subtype,
                "raw": event.raw_text(),
            }
        }
        if event.type in HISTORY_ONLY:
            self.tracker.note(
                notice_id,
                record.get("status") or "",
                f"{event.type} ({event.provider} webhook)",
                kind=str(event.type),
                **extra,
            )
            return
        report = to_report(event, record.get("to", ""))
        outcome = self.processor.apply(
            notice_id, record, report, f"webhook:{event.provider}", extra
        )
        log.info("%s webhook: %s for notice %s: %s", event.provider, event.type, notice_id, outcome)


def to_report(event: ProviderEvent, address: str) -> Report:
    """The event as the parser would have read a DSN: reason through the same classifier."""
    action = ACTIONS[event.type]
    if event.type is EventType.COMPLAINED:
        reason, kind = Reason.FEEDBACK, Kind.NONE
    else:
        told = str(event.told) if event.told is not None else None
        reason = classify(event.status, event.smtp_code, event.diagnostic, action, told=told)
        kind = kind_for(reason, action)
    return Report(
        recipient=address,
        action=action,
        status=event.status,
        reason=reason,
        kind=kind,
        diagnostic=event.diagnostic,
        smtp_code=event.smtp_code,
        original_recipient=None,
        envelope_id=None,
        remote_mta=None,
        source=f"webhook:{event.provider}",
    )


def refuse(provider: str, exc: Refused, event: EventType | None = None) -> None:
    """Count and log a refusal: the reason only, never an address or the payload."""
    metrics.WEBHOOK_REFUSALS.labels(provider=provider, reason=str(exc.refusal)).inc()
    log.warning(
        "%s webhook refused (%s%s): %s",
        provider,
        exc.refusal,
        f", {event} event" if event else "",
        exc.why,
    )


__all__ = ["Done", "Outcome", "Result", "WebhookApplier", "dedupe_key", "refuse", "to_report"]
