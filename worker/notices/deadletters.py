"""The dead-letter store: invalid events kept with their reason and payload until handled."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.errors import InvalidEvent
from worker.intake import producer
from worker.intake.cards import redact
from worker.intake.events import decode
from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.record import iso, notice_id_for

#: The payload is kept up to this size; a larger one is cut (and says so).
MAX_PAYLOAD = 64 * 1024


def payload_text(payload: Any) -> str:
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", errors="replace")
    elif isinstance(payload, str):
        text = payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(payload)
    if len(text) > MAX_PAYLOAD:
        text = text[:MAX_PAYLOAD] + f"\n… cut: {len(text)} characters in all"
    return redact(_utf8(text))


def _utf8(text: str) -> str:
    """Lone surrogates (JSON can carry "\\ud800") written as \\ud800: Redis takes only
    text that encodes as UTF-8, and the dead letter must be kept whatever it holds."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class Requeued:
    """What a requeue did: the event went back on the queue, or why it did not."""

    done: bool
    message: str
    event_id: str | None = None
    notice_id: str | None = None  #: the notice the requeued event becomes


class DeadLetters:
    def __init__(self, client: RedisClient, retention_days: int = 90) -> None:
        self.r = client
        self.ttl = retention_days * 86400

    def add(
        self,
        payload: Any,
        reason: str,
        field: str = "",
        source: str = "queue",
        event_id: str | None = None,
        task: str | None = None,
    ) -> str:
        dead_id = uuid.uuid4().hex[:12]
        now = time.time()
        # Every field is masked, not only the payload: a card number can be the event id,
        # or a key, and so part of the reason and the field's path.
        record = {
            "id": dead_id,
            "at": iso(now),
            "reason": redact(_utf8(reason)),
            "field": redact(_utf8(field)),
            "source": source,
            "payload": payload_text(payload),
        }
        if event_id:
            record["event_id"] = redact(_utf8(event_id[:128]))
        if task and task != producer.CHARGE_FAILED:
            # The task the message named: a requeue delivers it there (an event type an
            # older worker did not know yet, once every worker is upgraded).
            record["task"] = _utf8(task[:128])
        pipe = self.r.pipeline()
        pipe.hset(keys.dead_letter(dead_id), mapping=record)
        pipe.expire(keys.dead_letter(dead_id), self.ttl)
        pipe.zadd(keys.DEAD, {dead_id: now})
        pipe.execute()
        return dead_id

    def get(self, dead_id: str) -> dict[str, str] | None:
        record = self.r.hgetall(keys.dead_letter(dead_id))
        return dict(record) if record else None

    def list(self, limit: int = 1000, offset: int = 0) -> list[dict[str, str]]:
        ids = self.r.zrevrange(keys.DEAD, offset, offset + limit - 1)
        pipe = self.r.pipeline(transaction=False)
        for dead_id in ids:
            pipe.hgetall(keys.dead_letter(dead_id))
        out = []
        for dead_id, record in zip(ids, pipe.execute(), strict=True):
            if record:
                out.append(dict(record))
            else:  # expired: drop its index entry
                self.r.zrem(keys.DEAD, dead_id)
        return out

    def count(self) -> int:
        return int(self.r.zcard(keys.DEAD))

    def drop(self, dead_id: str) -> bool:
        pipe = self.r.pipeline()
        pipe.delete(keys.dead_letter(dead_id))
        pipe.zrem(keys.DEAD, dead_id)
        deleted, _ = pipe.execute()
        return bool(deleted)

    def requeue(
        self,
        dead_id: str,
        publish: Callable[[str, Any], Any],
        corrected: str | bytes | None = None,
    ) -> Requeued:
        """Check the dead letter's event again (or ``corrected``, a fixed copy) and, when it
        passes, put it back on the queue (``publish(task name, payload)``) and drop the
        dead letter.

        Still invalid, or the queue away: the dead letter is kept and the reason says why.
        """
        record = self.get(dead_id)
        if record is None:
            return Requeued(False, f"no dead letter {dead_id!r}")
        task = record.get("task") or producer.CHARGE_FAILED
        try:
            payload = decode(corrected if corrected is not None else record.get("payload", ""))
        except InvalidEvent as exc:
            return Requeued(False, f"still invalid: {exc.reason} (the dead letter is kept)")
        if task in producer.EVENT_TASKS:
            # An event goes to its type's task: one dead-lettered for arriving on the wrong
            # task is delivered to the right one.
            task = producer.task_for(payload)
            reason = producer.check(producer.Item(0, payload))
            if reason:
                return Requeued(
                    False,
                    f"still invalid: {reason} (the dead letter is kept; "
                    "correct the event and requeue it)",
                )
        publish(task, payload)
        self.drop(dead_id)
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if not isinstance(event_id, str):
            return Requeued(True, f"requeued {dead_id} to {task}")
        return Requeued(
            True, f"requeued {dead_id} as event {event_id}", event_id, notice_id_for(event_id)
        )
