"""Per-hour counters for the ops charts: status changes, bounces, send latency, domains."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.scripts import ScriptBatch

log = logging.getLogger(__name__)

#: Upper bounds (seconds) of the latency buckets, from queued to sent and to delivered.
LATENCY_BOUNDS: Final[tuple[float, ...]] = (
    1,
    5,
    15,
    60,
    300,
    900,
    3600,
    14400,
    86400,
    math.inf,
)
#: The statuses whose latency is counted (``latency:<status>:<bound>``).
LATENCY_STATUSES: Final = ("sent", "delivered")
#: The statuses counted per recipient domain (``domain:<domain>:<status>``).
DOMAIN_STATUSES: Final = ("sent", "deferred", "bounced", "delivered", "failed")
#: Distinct domains counted per hour; the outcomes of any further domain that hour are
#: counted under OTHER_DOMAIN (one hash must not grow with every domain ever mailed).
DOMAIN_CAP: Final = 100
#: Where outcomes beyond DOMAIN_CAP, or of an address without a usable domain, are counted.
#: Parentheses never occur in a domain, so it cannot be mistaken for one.
OTHER_DOMAIN: Final = "(other)"
_DOMAIN: Final = re.compile(r"[a-z0-9](?:[a-z0-9_.-]{0,251}[a-z0-9])?")

#: One status change counted in one script: the plain fields (ARGV[5:]), then the domain
#: (ARGV[3], '' for none) under the per-hour cap (ARGV[2]), then the hash's expiry.
#: ``domain:<d>`` marks a domain as counted this hour (its value: outcomes counted for it)
#: and ``domains`` is how many are.
_COUNT: Final = """
local key = KEYS[1]
for i = 5, #ARGV do redis.call('HINCRBY', key, ARGV[i], 1) end
local d = ARGV[3]
if d ~= '' then
  if redis.call('HEXISTS', key, 'domain:' .. d) == 0 then
    if tonumber(redis.call('HGET', key, 'domains') or '0') >= tonumber(ARGV[2]) then
      d = '(other)'
    else
      redis.call('HINCRBY', key, 'domains', 1)
    end
  end
  redis.call('HINCRBY', key, 'domain:' .. d, 1)
  redis.call('HINCRBY', key, 'domain:' .. d .. ':' .. ARGV[4], 1)
end
redis.call('EXPIRE', key, ARGV[1])
return 1
"""


def bound_field(bound: float) -> str:
    """A bucket's name in its field: ``60``, or ``inf`` for the last one."""
    return "inf" if math.isinf(bound) else str(int(bound))


def latency_bucket(seconds: float) -> str:
    """The field name of the smallest bucket holding ``seconds`` (clock skew counts as 0)."""
    seconds = max(0.0, seconds)
    return bound_field(next(b for b in LATENCY_BOUNDS if seconds <= b))


def bound_label(bound: float) -> str:
    """``≤ 15 s``, ``≤ 5 min``, ``≤ 4 h``, ``≤ 1 d``; the last bucket is ``> 1 d``."""
    if math.isinf(bound):
        return f"> {bound_label(LATENCY_BOUNDS[-2])[2:]}"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if bound >= size and bound % size == 0:
            return f"≤ {int(bound // size)} {unit}"
    return f"≤ {int(bound)} s"


def relay_domain(address: str | None) -> str | None:
    """The recipient's domain, lower-cased, or OTHER_DOMAIN when it is not a plain domain
    name; None without an address. Never anything of the local part."""
    if not address:
        return None
    _, at, domain = address.strip().rpartition("@")
    domain = domain.lower().rstrip(".")
    if not at or not _DOMAIN.fullmatch(domain) or ".." in domain:
        return OTHER_DOMAIN
    return domain


def epoch_of(value: str | None) -> float | None:
    """Epoch seconds from a stored time: a number (``queued_at``) or RFC 3339 (``created_at``)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


Hours = Sequence[tuple[int, dict[str, int]]]


def latency_histogram(hours: Hours, status: str) -> list[tuple[float, int]]:
    """``(upper bound, count)`` per bucket over all ``hours``, in the order of the bounds."""
    totals = dict.fromkeys(LATENCY_BOUNDS, 0)
    for _, row in hours:
        for bound in LATENCY_BOUNDS:
            totals[bound] += row.get(f"latency:{status}:{bound_field(bound)}", 0)
    return list(totals.items())


def percentile(histogram: Iterable[tuple[float, int]], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile (0 < q ≤ 1): at least a
    share ``q`` of the counted notices took no longer than it. None when nothing was counted."""
    rows = list(histogram)
    total = sum(n for _, n in rows)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for bound, n in rows:
        seen += n
        if seen >= rank:
            return bound
    return rows[-1][0]


def domain_outcomes(hours: Hours, top: int = 20) -> list[tuple[str, dict[str, int]]]:
    """Outcomes per recipient domain over all ``hours``, most outcomes first: the ``top``
    domains, the rest summed under OTHER_DOMAIN (last)."""
    totals: dict[str, dict[str, int]] = {}
    for _, row in hours:
        for field, value in row.items():
            parts = field.split(":")
            if len(parts) == 3 and parts[0] == "domain" and parts[2] in DOMAIN_STATUSES:
                per = totals.setdefault(parts[1], dict.fromkeys(DOMAIN_STATUSES, 0))
                per[parts[2]] += value
    ranked = sorted(
        ((d, per) for d, per in totals.items() if d != OTHER_DOMAIN),
        key=lambda kv: (-sum(kv[1].values()), kv[0]),
    )
    rest = [per for _, per in ranked[top:]]
    if OTHER_DOMAIN in totals:
        rest.append(totals[OTHER_DOMAIN])
    out = ranked[:top]
    if rest:
        out.append((OTHER_DOMAIN, {s: sum(per[s] for per in rest) for s in DOMAIN_STATUSES}))
    return out


class HourlyStats:
    """Counters by UTC hour, kept as long as the records (``NOTICE_RETENTION_DAYS``)."""

    def __init__(
        self, client: RedisClient, retention_days: int = 90, domain_cap: int = DOMAIN_CAP
    ) -> None:
        self.r = client
        self.ttl = retention_days * 86400
        self.domain_cap = domain_cap
        self._count = client.register_script(_COUNT)

    def count(
        self,
        status: str,
        bounce: str | None = None,
        now: float | None = None,
        *,
        queued_at: float | None = None,
        to: str | None = None,
        batch: ScriptBatch | None = None,
    ) -> None:
        """Count one change to ``status`` (and the bounce it carries, JSON as stored);
        with ``batch``, sent with the rest of the change's writes instead of on its own.

        ``queued_at`` (when the notice was queued) counts a ``sent`` or ``delivered``
        change in its latency bucket; ``to`` (the recipient) counts an outcome under its
        domain (the domain alone). Best effort: the change itself is already made, and a
        counter that cannot be written must not make it look as if it were not.
        """
        now = time.time() if now is None else now
        key = keys.stats_hour(int(now // 3600))
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
        if status in LATENCY_STATUSES and queued_at is not None:
            fields.append(f"latency:{status}:{latency_bucket(now - queued_at)}")
        domain = relay_domain(to) if status in DOMAIN_STATUSES else None
        one = batch or ScriptBatch(self.r)
        args = [self.ttl, self.domain_cap, domain or "", status, *fields]
        one.add(self._count, [key], args, best_effort=True, what="hourly counters")
        if batch is None:
            one.run()

    def count_change(
        self,
        status: str,
        bounce: str | None,
        now: float,
        seen: Sequence[str],
        batch: ScriptBatch | None = None,
    ) -> None:
        """Count a status change from what the transition script read back: the record's
        ``created_at``, ``queued_at`` and ``to`` (any of them may be empty)."""
        created, queued, to = [*seen, "", "", ""][:3]
        since = epoch_of(queued) or epoch_of(created)
        self.count(status, bounce, now, queued_at=since, to=to or None, batch=batch)

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
