"""What became of each notice, told outward: the pdn:events stream and the outbound webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final

from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.lua import SWEEP
from worker.notices.record import iso
from worker.notices.scripts import ScriptBatch
from worker.notices.status import Status
from worker.settings import Settings

#: The non-status event: the admin's address cannot be reached (hard bounce, suppression,
#: complaint). Once per address per episode.
ADMIN_UNREACHABLE: Final = "admin_unreachable"

#: What makes an address unreachable, and what ends the episode.
UNREACHABLE_ON: Final = frozenset({Status.BOUNCED, Status.SUPPRESSED})
REACHABLE_ON: Final = frozenset({Status.DELIVERED})

#: Seconds before each retry of a delivery the receiver did not take; the last repeats
#: (a delivery is never dropped: it waits, visible in metrics, until the receiver answers).
RETRY_DELAYS: Final = (10.0, 60.0, 300.0, 1800.0, 7200.0, 21600.0)

#: One script per change: the stream entry, the webhook delivery when its status is
#: wanted, and the unreachable episode, atomically (a crash never emits half of it).
EMIT: Final = """
local rec = redis.call('HMGET', KEYS[1], 'event_id', 'subscription_id', 'to')
local event_id, sub, to = rec[1] or '', rec[2] or '', rec[3] or ''
local maxlen, status, reason, at = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local function emit(kind, fields)
  if maxlen > 0 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', unpack(fields))
  end
  if ARGV[6] == '1' and (kind == 'status' and ARGV[7] == '1' or kind == 'event') then
    local id = ARGV[8] .. ':' .. (kind == 'event' and 'u' or 's')
    local body = {}
    for i = 1, #fields, 2 do body[fields[i]] = fields[i + 1] end
    redis.call('HSET', ARGV[12] .. id, 'body', cjson.encode(body), 'notice_id', ARGV[5],
      'attempts', 0)
    redis.call('ZADD', KEYS[3], tonumber(ARGV[9]), id)
  end
end
if ARGV[13] == '1' then
  emit('status', {'notice_id', ARGV[5], 'event_id', event_id, 'subscription_id', sub,
    'status', status, 'reason', reason, 'at', at})
end
if ARGV[10] == 'unreachable' and to ~= '' then
  if redis.call('SET', KEYS[4], at, 'NX', 'EX', tonumber(ARGV[11])) then
    emit('event', {'notice_id', ARGV[5], 'event_id', event_id, 'subscription_id', sub,
      'event', 'admin_unreachable', 'status', status, 'reason', reason, 'at', at})
  end
elseif ARGV[10] == 'reachable' then
  redis.call('DEL', KEYS[4])
end
return 1
"""


@dataclass(frozen=True)
class Delivery:
    """One outbound webhook POST waiting to be made."""

    delivery_id: str
    notice_id: str
    body: str
    attempts: int


def signature(secret: str, body: str, now: float | None = None) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: the X-Notices-Signature header."""
    t = str(int(time.time() if now is None else now))
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str, body: str, header: str, tolerance: float = 300, now: float | None = None
) -> bool:
    """What a receiver checks (and our tests): a fresh timestamp and a matching HMAC,
    compared in constant time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Outbound:
    """Appends each change to the stream and queues the webhook deliveries it calls for."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        self.r = client
        self.maxlen = settings.events_stream_maxlen
        self.webhook = bool(settings.outbound_webhook_url)
        self.wanted = frozenset(settings.outbound_statuses)
        self.episode_ttl = settings.notice_retention_days * 86400
        self._emit = client.register_script(EMIT)
        # The sweeper's script: take what is due and push it ahead, atomically.
        self._take = client.register_script(SWEEP)

    def changed(
        self,
        notice_id: str,
        status: Status | str,
        reason: str = "",
        at: float | None = None,
        *,
        address: str | None = None,
        batch: ScriptBatch | None = None,
    ) -> None:
        """A notice reached ``status``: tell the stream, the webhook and, when the admin's
        address turned out dead (or alive again), the episode. ``address``: the notice's,
        when the caller has it (else it is read); ``batch``: sent with the change's other
        writes."""
        status = Status(status)
        episode = (
            "unreachable"
            if status in UNREACHABLE_ON
            else ("reachable" if status in REACHABLE_ON else "")
        )
        self._run(notice_id, status, reason, at, episode, True, address, batch)

    def unreachable(self, notice_id: str, status: str, reason: str) -> None:
        """The address was suppressed without a status change (a complaint about a
        delivered notice): the admin_unreachable event, once per episode."""
        self._run(notice_id, Status(status), reason, None, "unreachable", False)

    def _run(
        self,
        notice_id: str,
        status: Status,
        reason: str,
        at: float | None,
        episode: str,
        status_entry: bool,
        address: str | None = None,
        batch: ScriptBatch | None = None,
    ) -> None:
        now = time.time() if at is None else at
        # The episode key is named by the address: read it only when the episode moves.
        if not episode:
            address = ""
        elif address is None:
            address = self.r.hget(keys.notice(notice_id), "to") or ""
        one = batch or ScriptBatch(self.r)
        one.add(
            self._emit,
            what="events stream",
            best_effort=False,
            keys=[
                keys.notice(notice_id),
                keys.EVENTS,
                keys.OUTBOX,
                keys.unreachable(address) if address else keys.unreachable("-"),
            ],
            args=[
                self.maxlen,
                str(status),
                reason[:300],
                iso(now),
                notice_id,
                int(self.webhook),
                int(str(status) in self.wanted),
                uuid.uuid4().hex,
                now,
                episode if address else "",
                self.episode_ttl,
                keys.outbox_item(""),
                int(status_entry),
            ],
        )
        if batch is None:
            one.run()

    def reachable_again(self, address: str) -> None:
        """The address was taken off the suppression list: a later failure is news again."""
        self.r.delete(keys.unreachable(address))

    # -- deliveries ------------------------------------------------------------------
    def due(self, limit: int = 50, lease: float = 60.0) -> list[Delivery]:
        """Deliveries that are due, each pushed ``lease`` seconds ahead so that two workers
        do not POST the same one at once."""
        now = time.time()
        found = []
        for delivery_id in self._take(keys=[keys.OUTBOX], args=[now, now + lease, limit]):
            item = self.r.hgetall(keys.outbox_item(delivery_id))
            if not item:
                self.r.zrem(keys.OUTBOX, delivery_id)
                continue
            found.append(
                Delivery(
                    delivery_id,
                    item.get("notice_id", ""),
                    item["body"],
                    int(item.get("attempts", 0)),
                )
            )
        return found

    def delivered(self, delivery: Delivery) -> None:
        pipe = self.r.pipeline()
        pipe.zrem(keys.OUTBOX, delivery.delivery_id)
        pipe.delete(keys.outbox_item(delivery.delivery_id))
        pipe.execute()

    def failed(self, delivery: Delivery) -> float:
        """The receiver did not take it: due again after the next retry delay; returns it."""
        delay = RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS) - 1)]
        pipe = self.r.pipeline()
        pipe.hincrby(keys.outbox_item(delivery.delivery_id), "attempts", 1)
        pipe.zadd(keys.OUTBOX, {delivery.delivery_id: time.time() + delay})
        pipe.execute()
        return delay

    def pending(self) -> int:
        return int(self.r.zcard(keys.OUTBOX))

    def read(self, count: int = 100, after: str = "0") -> list[dict[str, Any]]:
        """Stream entries after ``after`` (for the CLI and tests; consumers use groups)."""
        return [
            {"id": i, **fields}
            for i, fields in self.r.xrange(
                keys.EVENTS, f"({after}" if after != "0" else "-", "+", count
            )
        ]


def body_of(delivery: Delivery) -> str:
    """The JSON body as POSTed (bytes signed are exactly these)."""
    return json.dumps(
        json.loads(delivery.body), ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
