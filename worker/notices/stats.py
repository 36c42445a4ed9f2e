"""Per-hour counters for the ops charts: status changes and bounces by kind and reason."""

from __future__ import annotations

import json
import logging
import time

import redis

from worker.notices import keys
from worker.notices.connection import RedisClient

log = logging.getLogger(__name__)


class HourlyStats:
    """Counters by UTC hour, kept as long as the records (``NOTICE_RETENTION_DAYS``)."""

    def __init__(self, client: RedisClient, retention_days: int = 90) -> None:
        self.r = client
        self.ttl = retention_days * 86400

    def count(self, status: str, bounce: str | None = None, now: float | None = None) -> None:
        """Count one change to ``status`` (and the bounce it carries, JSON as stored).

        Best effort: the change itself is already made, and a counter that cannot be
        written must not make it look as if it were not.
        """
        key = keys.stats_hour(int((time.time() if now is None else now) // 3600))
        fields = [f"status:{status}"]
        if bounce:
            try:
                found = json.loads(bounce)
            except ValueError:
                found = {}
            if isinstance(found, dict):
                kind = str(found.get("kind") or "unknown")
                reason = str(found.get("reason") or "unknown")
                fields.append(f"bounce:{kind}:{reason}")
        try:
            pipe = self.r.pipeline(transaction=False)
            for field in fields:
                pipe.hincrby(key, field, 1)
            pipe.expire(key, self.ttl)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("hourly counters not updated: %s", exc.__class__.__name__)

    def hours(self, last: int, now: float | None = None) -> list[tuple[int, dict[str, int]]]:
        """The ``last`` hours up to now, oldest first: (hour, counters)."""
        current = int((time.time() if now is None else now) // 3600)
        wanted = list(range(current - last + 1, current + 1))
        pipe = self.r.pipeline(transaction=False)
        for hour in wanted:
            pipe.hgetall(keys.stats_hour(hour))
        rows = pipe.execute()
        return [
            (hour, {str(k): int(v) for k, v in (row or {}).items()})
            for hour, row in zip(wanted, rows, strict=True)
        ]
