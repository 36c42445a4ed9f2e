"""The suppression list: addresses we no longer mail because they hard-bounced."""

from __future__ import annotations

import time

from worker.intake.addresses import key as address_key
from worker.notices.connection import PREFIX, RedisClient
from worker.notices.store import iso

INDEX = PREFIX + "sup"


def _key(address: str) -> str:
    return f"{PREFIX}sup:{address_key(address)}"


def _soft_key(address: str) -> str:
    return f"{PREFIX}soft:{address_key(address)}"


class Suppressions:
    def __init__(self, client: RedisClient) -> None:
        self.r = client

    def add(self, address: str, *, notice_id: str | None, reason: str, status: str | None,
            kind: str, diagnostic: str | None = None, source: str = "bounce") -> None:
        now = time.time()
        record = {"address": address_key(address), "notice_id": notice_id or "",
                  "reason": reason, "status": status or "", "kind": kind,
                  "diagnostic": (diagnostic or "")[:500], "source": source, "at": iso(now)}
        pipe = self.r.pipeline()
        pipe.hset(_key(address), mapping=record)
        pipe.zadd(INDEX, {address_key(address): now})
        pipe.execute()

    def get(self, address: str) -> dict[str, str] | None:
        record = self.r.hgetall(_key(address))
        return dict(record) if record else None

    def remove(self, address: str) -> bool:
        pipe = self.r.pipeline()
        pipe.delete(_key(address))
        pipe.zrem(INDEX, address_key(address))
        pipe.delete(_soft_key(address))
        deleted, _, _ = pipe.execute()
        return bool(deleted)

    def list(self) -> list[dict[str, str]]:
        addresses = self.r.zrevrange(INDEX, 0, -1)
        pipe = self.r.pipeline(transaction=False)
        for address in addresses:
            pipe.hgetall(_key(address))
        return [dict(r) for r in pipe.execute() if r]

    def count(self) -> int:
        return int(self.r.zcard(INDEX))

    def soft_bounce(self, address: str, notice_id: str, window_days: int) -> int:
        """Record a mailbox-level soft bounce; return how many fell within the window."""
        now = time.time()
        key = _soft_key(address)
        pipe = self.r.pipeline()
        pipe.zadd(key, {f"{notice_id}:{now}": now})
        pipe.zremrangebyscore(key, "-inf", now - window_days * 86400)
        pipe.zcard(key)
        pipe.expire(key, window_days * 86400)
        _, _, count, _ = pipe.execute()
        return int(count)
