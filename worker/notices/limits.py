"""Limits every worker shares through Redis: mails per second to the relay and per domain,
connections to the relay, and the slow-down after a throttling reply.

Relays and mailbox providers limit a sender, not a process: a limit kept in one process
would let four workers send four times too fast. Each limit is one Lua script, so that
concurrent workers never both take the last token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.settings import Settings

#: Without a configured rate, a throttled domain starts from this many mails per second.
THROTTLED_BASE_RATE: Final = 20.0
#: A throttled domain's rate is halved for this long, then recovers step by step.
THROTTLE_HOLD: Final = 60.0
#: Each recovery step multiplies the rate by this, every THROTTLE_STEP seconds.
RECOVERY_FACTOR: Final = 1.5
THROTTLE_STEP: Final = 15.0
#: The rate never falls below this share of its base.
MIN_FACTOR: Final = 1 / 64
#: A connection slot is held this long unless refreshed (a crashed worker frees its own).
SLOT_TTL: Final = 60.0

#: Take one token from the relay bucket and the domain bucket, or neither; returns the
#: seconds to wait (0: go). A rate of 0 means "no limit" for that bucket.
_TAKE: Final = """
-- Redis's clock, not the caller's: workers on several hosts (or a caller delayed between
-- reading its clock and running this) would otherwise move the bucket back and forth.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function state(key, rate)
  if rate <= 0 then return nil end
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1]) or math.max(rate, 1)
  local ts = tonumber(b[2]) or now
  tokens = math.min(math.max(rate, 1), tokens + (now - ts) * rate)
  return tokens
end
local relay_rate = tonumber(ARGV[1])
local domain_rate = tonumber(ARGV[2])
-- the domain's throttle factor, recovering step by step after its hold
local factor = 1
if KEYS[3] ~= '' then
  local t = redis.call('HMGET', KEYS[3], 'factor', 'until', 'step_at')
  factor = tonumber(t[1]) or 1
  local hold, step_at = tonumber(t[2]) or 0, tonumber(t[3]) or 0
  if factor < 1 and now >= hold and now >= step_at then
    factor = math.min(1, factor * tonumber(ARGV[4]))
    if factor >= 1 then redis.call('DEL', KEYS[3])
    else redis.call('HSET', KEYS[3], 'factor', factor, 'step_at', now + tonumber(ARGV[5])) end
  end
  if factor < 1 and domain_rate <= 0 then domain_rate = tonumber(ARGV[3]) end
end
domain_rate = domain_rate * factor
local r = state(KEYS[1], relay_rate)
local d = state(KEYS[2], domain_rate)
local wait = 0
if r and r < 1 then wait = math.max(wait, (1 - r) / relay_rate) end
if d and d < 1 then wait = math.max(wait, (1 - d) / domain_rate) end
if wait > 0 then return tostring(wait) end
if r then
  redis.call('HSET', KEYS[1], 'tokens', r - 1, 'ts', now)
  redis.call('EXPIRE', KEYS[1], 3600)
end
if d then
  redis.call('HSET', KEYS[2], 'tokens', d - 1, 'ts', now)
  redis.call('EXPIRE', KEYS[2], 3600)
end
return '0'
"""

#: Halve a domain's rate: hold it there, then let it recover step by step.
_THROTTLE: Final = """
-- Redis's clock, not the caller's: workers on several hosts (or a caller delayed between
-- reading its clock and running this) would otherwise move the bucket back and forth.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local factor = tonumber(redis.call('HGET', KEYS[1], 'factor')) or 1
factor = math.max(tonumber(ARGV[1]), factor / 2)
redis.call('HSET', KEYS[1], 'factor', factor, 'until', now + tonumber(ARGV[2]),
           'step_at', now + tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], 86400)
return tostring(factor)
"""

#: Take a connection slot if fewer than ARGV[3] are held (expired ones do not count).
_ACQUIRE: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4]); return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
return 1
"""


@dataclass(frozen=True)
class DomainState:
    """What a domain's limit looks like now (metrics, pages)."""

    domain: str
    factor: float  #: 1: not throttled; 0.5: halved...
    rate: float | None  #: mails per second allowed now (None: no limit)


class RelayLimits:
    """RELAY_RATE, DOMAIN_RATES and RELAY_MAX_CONNECTIONS, shared by every worker."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        self.r = client
        self.relay_rate = settings.relay_rate
        self.domain_rates = dict(settings.domain_rates)
        self.max_connections = settings.relay_max_connections
        self._take = client.register_script(_TAKE)
        self._throttle = client.register_script(_THROTTLE)
        self._acquire = client.register_script(_ACQUIRE)

    @property
    def limits_rate(self) -> bool:
        """Whether any rate applies before a send (else ``take`` is skipped entirely)."""
        return bool(self.relay_rate or self.domain_rates)

    def take(self, domain: str) -> float:
        """One send's worth of the relay's and the domain's rate: 0 to go, else the seconds
        to wait before asking again."""
        domain = domain.lower()
        wait = self._take(
            keys=[keys.relay_bucket(), keys.domain_bucket(domain), keys.domain_throttle(domain)],
            args=[
                self.relay_rate,
                self.domain_rates.get(domain, 0.0),
                self.relay_rate or THROTTLED_BASE_RATE,
                RECOVERY_FACTOR,
                THROTTLE_STEP,
            ],
        )
        return float(wait)

    def throttled(self, domain: str) -> float:
        """The domain answered "slow down": halve its rate; returns the new factor."""
        return float(
            self._throttle(
                keys=[keys.domain_throttle(domain.lower())],
                args=[MIN_FACTOR, THROTTLE_HOLD],
            )
        )

    def is_throttled(self, domain: str) -> bool:
        return bool(self.r.exists(keys.domain_throttle(domain.lower())))

    def acquire_connection(self, member: str) -> bool:
        """A slot for one more connection to the relay (True), or none free (False)."""
        if not self.max_connections:
            return True
        now = time.time()
        return bool(
            self._acquire(
                keys=[keys.relay_connections()],
                args=[now, now + SLOT_TTL, self.max_connections, member],
            )
        )

    def release_connection(self, member: str) -> None:
        if self.max_connections:
            self.r.zrem(keys.relay_connections(), member)

    def connections(self) -> int:
        """Connection slots held by every worker right now."""
        key = keys.relay_connections()
        return int(self.r.zcount(key, time.time(), "+inf"))

    def domain_states(self) -> list[DomainState]:
        found = []
        for key in self.r.scan_iter(keys.domain_throttle("*"), count=500):
            domain = key.rsplit(":", 1)[1]
            factor = float(self.r.hget(key, "factor") or 1)
            base = self.domain_rates.get(domain) or self.relay_rate or THROTTLED_BASE_RATE
            found.append(DomainState(domain, factor, base * factor))
        return found
