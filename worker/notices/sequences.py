"""Reminder sequences: one per subscription and invoice, opened by a failure, closed by a payment.

Every event is recorded once per event_id, in the sequence's history.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from worker.intake.lifecycle import LifecycleEvent
from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.lua_sequences import SEQ_CLOSE, SEQ_FAIL
from worker.notices.record import history_entry, iso
from worker.notices.status import Step


class Decision(StrEnum):
    """What a charge failure did to its sequence."""

    OPEN = "open"  #: it opened the sequence (or a new round of it): its notice is the first
    JOIN = "join"  #: the sequence was open: recorded in its history, no notice of its own
    STALE = "stale"  #: older than the payment that closed the sequence: a cancelled notice


@dataclass(frozen=True)
class Failure:
    decision: Decision
    sequence_id: str
    notice_id: str  #: the first notice of the round (open, join) or the cancelled one (stale)
    round: int
    duplicate: bool  #: this event_id had been recorded before: nothing changed now


@dataclass(frozen=True)
class Closing:
    duplicate: bool
    closed: int  #: sequences closed by this event
    cancelled: int  #: pending steps cancelled at once
    leased: int  #: steps being sent right now (the send path's check stops them)


def sequence_id_for(subscription_id: str, invoice_id: str | None) -> str:
    """The sequence key: the subscription and invoice, or the subscription alone."""
    raw = f"seq\0{subscription_id}\0{invoice_id or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def step_notice_id(sequence_id: str, round_no: int, step: Step, step_no: int) -> str:
    """A later step's notice id, derived from its sequence and step: one notice per step."""
    raw = f"step\0{sequence_id}\0{round_no}\0{step}\0{step_no}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


class Sequences:
    """Records what each event did to its sequence; every change is one Lua script."""

    def __init__(self, client: RedisClient, retention_days: int = 90, cap: int = 200) -> None:
        self.r = client
        self.ttl = retention_days * 86400
        self.cap = cap
        self._fail = client.register_script(SEQ_FAIL)
        self._close = client.register_script(SEQ_CLOSE)

    def fail(
        self,
        *,
        event_id: str,
        subscription_id: str,
        invoice_id: str | None,
        failed_at: float,
        notice_id: str,
        attempt: int | None = None,
    ) -> Failure:
        """Record a charge failure: open, join, or stale (see Decision)."""
        sequence_id = sequence_id_for(subscription_id, invoice_id)
        now = time.time()
        extra = {"event_id": event_id, "type": "charge_failed", "attempt": attempt}
        result = self._fail(
            keys=[
                keys.sequence(sequence_id),
                keys.sequence_history(sequence_id),
                keys.sequence_steps(sequence_id),
                keys.sequence_event(event_id),
                keys.subscription(subscription_id),
                keys.subscription_settled(subscription_id),
            ],
            args=[
                event_id,
                repr(failed_at),
                repr(now),
                self.ttl,
                notice_id,
                subscription_id,
                invoice_id or "",
                history_entry("open", "opened by a charge failure", now, **extra),
                history_entry("open", "a later charge failure joined the sequence", now, **extra),
                history_entry(
                    "closed",
                    "a charge failure older than the payment that closed the sequence: "
                    "recorded, nothing sent",
                    now,
                    **extra,
                ),
                self.cap,
                sequence_id,
            ],
        )
        return Failure(
            Decision(result[0]), sequence_id, result[1], int(result[2] or 0), result[3] == "dup"
        )

    def close(self, event: LifecycleEvent) -> Closing:
        """Record a payment, void or cancellation and close what it settles."""
        sequence_id = sequence_id_for(event.subscription_id, event.invoice_id)
        now = time.time()
        extra: dict[str, Any] = {
            "event_id": event.event_id,
            "type": str(event.type),
            "occurred_at": iso(event.occurred_epoch),
        }
        if event.amount is not None:
            extra.update(amount=str(event.amount), currency=event.currency)
        reason = f"not sent: {event.type} {event.event_id}"
        result = self._close(
            keys=[
                keys.sequence_event(event.event_id),
                keys.subscription(event.subscription_id),
                keys.subscription_settled(event.subscription_id),
            ],
            args=[
                event.event_id,
                str(event.type),
                repr(event.occurred_epoch),
                repr(now),
                self.ttl,
                keys.PREFIX,
                sequence_id if event.invoice_id else "",
                event.subscription_id,
                event.invoice_id or "",
                history_entry("closed", f"closed by {event.type}", now, **extra),
                history_entry("cancelled", reason, now, by=event.event_id, type=str(event.type)),
                self.cap,
                iso(now),
                reason[:200],
                history_entry(
                    "open",
                    f"{event.type} older than the failure that opened this sequence: recorded, "
                    "the sequence stays open",
                    now,
                    **extra,
                ),
            ],
        )
        return Closing(result[0] == "dup", int(result[1]), int(result[2]), int(result[3]))

    def note(self, sequence_id: str, status: str, detail: str, **extra: Any) -> None:
        pipe = self.r.pipeline()
        pipe.rpush(keys.sequence_history(sequence_id), history_entry(status, detail, **extra))
        pipe.ltrim(keys.sequence_history(sequence_id), -self.cap, -1)
        pipe.execute()

    def add_step(self, sequence_id: str, notice_id: str, due: float) -> None:
        self.r.zadd(keys.sequence_steps(sequence_id), {notice_id: due})

    # -- reading -----------------------------------------------------------------------
    def get(self, sequence_id: str) -> dict[str, str] | None:
        record = self.r.hgetall(keys.sequence(sequence_id))
        return dict(record) if record else None

    def is_open(self, sequence_id: str) -> bool:
        return bool(self.r.hget(keys.sequence(sequence_id), "state") == "open")

    def history(self, sequence_id: str) -> list[dict[str, Any]]:
        raw = self.r.lrange(keys.sequence_history(sequence_id), 0, -1)
        return [json.loads(x) for x in raw]

    def step_ids(self, sequence_id: str) -> list[str]:
        return list(self.r.zrange(keys.sequence_steps(sequence_id), 0, -1))

    def of_event(self, event_id: str) -> str | None:
        """The sequence an event opened, joined or closed (None: unknown event)."""
        value = self.r.get(keys.sequence_event(event_id))
        if not value:
            return None
        parts = str(value).split("|")
        if parts[0] == "close":
            seq = parts[3] if len(parts) > 3 else ""
            return seq or None
        return parts[3] if len(parts) > 3 else None

    def of_subscription(self, subscription_id: str) -> list[str]:
        return sorted(self.r.smembers(keys.subscription(subscription_id)))
