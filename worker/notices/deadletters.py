"""The dead-letter store: invalid events kept with their reason and payload until handled."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from worker.intake.events import CARD_NUMBER_SHAPE
from worker.notices.connection import PREFIX, RedisClient
from worker.notices.store import iso

INDEX = PREFIX + "dead"
#: The payload is kept up to this size; a larger one is cut (and says so).
MAX_PAYLOAD = 64 * 1024


def _key(dead_id: str) -> str:
    return f"{PREFIX}dead:{dead_id}"


def redact(text: str) -> str:
    """Mask every card-number-shaped digit run but its last four digits.

    An event refused for carrying a card number must not leave that number in Redis.
    """
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "*" * (len(digits) - 4) + digits[-4:]
    return CARD_NUMBER_SHAPE.sub(mask, text)


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


class DeadLetters:
    def __init__(self, client: RedisClient, retention_days: int = 90) -> None:
        self.r = client
        self.ttl = retention_days * 86400

    def add(self, payload: Any, reason: str, field: str = "", source: str = "queue",
            event_id: str | None = None) -> str:
        dead_id = uuid.uuid4().hex[:12]
        now = time.time()
        record = {"id": dead_id, "at": iso(now), "reason": reason, "field": field,
                  "source": source, "payload": payload_text(payload)}
        if event_id:
            record["event_id"] = _utf8(event_id[:128])
        pipe = self.r.pipeline()
        pipe.hset(_key(dead_id), mapping=record)
        pipe.expire(_key(dead_id), self.ttl)
        pipe.zadd(INDEX, {dead_id: now})
        pipe.execute()
        return dead_id

    def get(self, dead_id: str) -> dict[str, str] | None:
        record = self.r.hgetall(_key(dead_id))
        return dict(record) if record else None

    def list(self, limit: int = 1000, offset: int = 0) -> list[dict[str, str]]:
        ids = self.r.zrevrange(INDEX, offset, offset + limit - 1)
        pipe = self.r.pipeline(transaction=False)
        for dead_id in ids:
            pipe.hgetall(_key(dead_id))
        out = []
        for dead_id, record in zip(ids, pipe.execute(), strict=True):
            if record:
                out.append(dict(record))
            else:  # expired: drop its index entry
                self.r.zrem(INDEX, dead_id)
        return out

    def count(self) -> int:
        return int(self.r.zcard(INDEX))

    def drop(self, dead_id: str) -> bool:
        pipe = self.r.pipeline()
        pipe.delete(_key(dead_id))
        pipe.zrem(INDEX, dead_id)
        deleted, _ = pipe.execute()
        return bool(deleted)
