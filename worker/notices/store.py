"""The notice record in Redis: its states, the allowed transitions, history and indexes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from worker.intake.addresses import key as address_key
from worker.notices.connection import PREFIX, RedisClient


class Status(StrEnum):
    QUEUED = "queued"  #: accepted; its first send is on its way
    SENT = "sent"  #: the relay answered 250 after DATA (accepted, not yet known delivered)
    DEFERRED = "deferred"  #: a transient failure, another attempt is scheduled; or a delay DSN
    DELIVERED = "delivered"  #: a success DSN (delivered or relayed) came back
    BOUNCED = "bounced"  #: the recipient was refused at RCPT, or a failure DSN came back
    FAILED = "failed"  #: a permanent refusal other than the recipient, or retries ran out
    SUPPRESSED = "suppressed"  #: the address is on the suppression list; nothing was sent


#: For each target status, the statuses a notice may move to it from. Kept as data so that
#: every rule is visible in one place and tested row by row.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.SENT: frozenset({Status.QUEUED, Status.DEFERRED}),
    Status.DEFERRED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT}),
    Status.FAILED: frozenset({Status.QUEUED, Status.DEFERRED}),
    Status.BOUNCED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT, Status.DELIVERED}),
    # From queued/deferred too: a success DSN for a mail whose "sent" was never recorded
    # (the worker died after the relay's 250) stops the resend that would duplicate it.
    Status.DELIVERED: frozenset({Status.QUEUED, Status.SENT, Status.DEFERRED}),
    # Replay: a failed, bounced, suppressed or stuck deferred notice goes back to the queue.
    Status.QUEUED: frozenset({Status.FAILED, Status.BOUNCED, Status.SUPPRESSED, Status.DEFERRED}),
    Status.SUPPRESSED: frozenset(),  # only ever set when the notice is created
}
#: Statuses in which a notice needs nothing more from the worker.
SETTLED = frozenset({Status.SENT, Status.DELIVERED, Status.BOUNCED, Status.FAILED,
                     Status.SUPPRESSED})
#: The public record fields (JSON output of `notices list`; `show` adds history).
RECORD_FIELDS = ("id", "event_id", "subscription_id", "to", "locale", "status", "attempts",
                 "created_at", "updated_at", "last_error", "message_id")

SCHED = PREFIX + "sched"
IDX_ALL = PREFIX + "idx:all"


def idx_status(status: str) -> str:
    return f"{PREFIX}idx:st:{status}"


def notice_key(notice_id: str) -> str:
    return f"{PREFIX}n:{notice_id}"


def history_key(notice_id: str) -> str:
    return f"{PREFIX}n:{notice_id}:h"


def event_key(notice_id: str) -> str:
    return f"{PREFIX}n:{notice_id}:e"


#: Event fields the record already holds; the stored event leaves them out.
_IN_RECORD = {"event_id": "event_id", "subscription_id": "subscription_id", "admin_email": "to"}
#: The stored event is a JSON array in this order (field names are most of an event's
#: size); fields the contract adds later go at the end, and unknown fields ride along
#: as a final object.
STORED_ORDER = ("amount", "currency", "payment_method", "locale", "reason", "card_brand",
                "card_last4", "admin_name", "account_name", "subscription_name",
                "subscription_status", "failed_at", "due_date", "disable_at")


def event_json(event: Mapping[str, Any]) -> str:
    """The event as stored beside its record: compact, without what the record repeats.

    Kept apart from the record so that the record's values stay short: Redis stores a
    hash whose values are all under 64 bytes in a compact listpack, about half the size.
    """
    values: list[Any] = [event.get(name) for name in STORED_ORDER]
    while values and values[-1] is None:
        values.pop()
    extra = {k: v for k, v in event.items()
             if k not in _IN_RECORD and k not in STORED_ORDER}
    if extra:
        values += [None] * (len(STORED_ORDER) - len(values)) + [extra]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def merge_event(stored: str | None, record: Mapping[str, str]) -> dict[str, Any]:
    """The whole event again: the stored part plus the fields the record holds (the
    record's current address, which a replay may have corrected)."""
    data: Any = json.loads(stored) if stored else {}
    event: dict[str, Any]
    if isinstance(data, list):
        extra = data.pop() if len(data) > len(STORED_ORDER) else {}
        event = {k: v for k, v in zip(STORED_ORDER, data, strict=False) if v is not None}
        event.update(extra)
    else:  # the object form written before the array form
        event = dict(data)
    for field, name in _IN_RECORD.items():
        if record.get(name):
            event[field] = record[name]
    return event


def addr_key(address: str) -> str:
    return f"{PREFIX}addr:{address_key(address)}"


def notice_id_for(event_id: str) -> str:
    """The notice id is derived from the event id: one notice per event, by construction."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:20]


def iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', redis.call('HGET', KEYS[1], 'status')}
end
local status, now, entry, ttl, prefix, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local fields = {}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('RPUSH', KEYS[2], entry)
redis.call('SET', KEYS[4], ARGV[9], 'EX', ttl)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', prefix .. 'idx:all', now, id)
redis.call('ZADD', prefix .. 'idx:st:' .. status, now, id)
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[3], ARGV[8], id) end
redis.call('SET', ARGV[7], id, 'EX', ttl)
return {'created', status}
"""

_TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {'missing', ''} end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur then allowed = true end end
if not allowed then return {'refused', cur} end
local to, now, entry, sched, prefix, id = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if ARGV[8] ~= '' and redis.call('HGET', KEYS[1], 'lease_until') ~= ARGV[8] then
  return {'stale', cur}
end
local fields = {'status', to, 'updated_at', ARGV[9]}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HDEL', KEYS[1], 'lease_until')
if entry ~= '' then redis.call('RPUSH', KEYS[2], entry) end
redis.call('ZREM', prefix .. 'idx:st:' .. cur, id)
redis.call('ZADD', prefix .. 'idx:st:' .. to, now, id)
if sched == 'remove' then redis.call('ZREM', KEYS[3], id)
elseif sched ~= 'keep' then redis.call('ZADD', KEYS[3], sched, id) end
return {'ok', cur}
"""

_CLAIM = """
local st = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'next_attempt_at')
if not st[1] then return {'missing', ''} end
if st[1] ~= 'queued' and st[1] ~= 'deferred' then return {'settled', st[1]} end
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return {'settled', st[1]} end
local now = tonumber(ARGV[1])
local lease = tonumber(st[2] or '') or 0
local due = tonumber(st[3] or '') or 0
if lease > now then return {'busy', st[1]} end
if ARGV[4] ~= 'force' and due > now then return {'notdue', st[1]} end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[2], 'handed_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'ok', st[1], st[2] or '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3])}
"""

_SWEEP = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""


@dataclass(frozen=True)
class Claim:
    """The right to make one send attempt, until ``lease_until``."""

    outcome: str  #: ok | busy | notdue | settled | missing
    status: str
    attempts: int = 0
    lease_until: str = ""
    #: A previous attempt's lease expired without an outcome: that worker died, maybe
    #: after the relay had already accepted the mail.
    interrupted: bool = False
    #: The record as the claim left it, and the stored event (read in the same script).
    record: Mapping[str, str] | None = None
    event: str | None = None


def history_entry(status: str, detail: str, at: float | None = None,
                  **extra: Any) -> str:
    entry = {"at": iso(at), "status": status, "detail": detail}
    entry.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


class Tracker:
    """Reads and changes notice records; every change is atomic (a Lua script)."""

    def __init__(self, client: RedisClient, retention_days: int = 90) -> None:
        self.r = client
        self.ttl = retention_days * 86400
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._claim = client.register_script(_CLAIM)
        self._sweep = client.register_script(_SWEEP)

    # -- writing -----------------------------------------------------------------------
    def create(self, notice_id: str, status: Status, fields: Mapping[str, str], detail: str,
               schedule_at: float | None = None, event: str = "{}") -> tuple[bool, str]:
        """Create the record unless it exists; returns (created, current status)."""
        now = time.time()
        record = {"id": notice_id, "status": str(status), "attempts": "0",
                  "created_at": iso(now), "updated_at": iso(now), **fields}
        flat = [x for kv in record.items() for x in kv]
        result = self._create(
            keys=[notice_key(notice_id), history_key(notice_id), SCHED, event_key(notice_id)],
            args=[str(status), now, history_entry(status, detail, now), self.ttl, PREFIX,
                  notice_id, addr_key(record.get("to", "")),
                  "" if schedule_at is None else schedule_at, event, *flat])
        return result[0] == "created", result[1]

    def transition(self, notice_id: str, target: Status, detail: str, *,
                   fields: Mapping[str, str] | None = None, schedule_at: float | None = None,
                   unschedule: bool = False, lease: str = "", history: bool = True,
                   **extra: Any) -> tuple[str, str]:
        """Move the notice to ``target`` if TRANSITIONS allow it from its current status.

        Returns (outcome, previous status): outcome is ok, refused, missing or stale (the
        caller's lease was taken over by another worker).
        """
        now = time.time()
        sched = "remove" if unschedule else ("keep" if schedule_at is None else str(schedule_at))
        flat = [x for kv in (fields or {}).items() for x in kv]
        entry = history_entry(target, detail, now, **extra) if history else ""
        allowed = ",".join(sorted(TRANSITIONS[target]))
        result = self._transition(
            keys=[notice_key(notice_id), history_key(notice_id), SCHED],
            args=[str(target), allowed, now, entry, sched, PREFIX, notice_id, lease, iso(now),
                  *flat])
        return result[0], result[1]

    def note(self, notice_id: str, status: str, detail: str, **extra: Any) -> None:
        """Add a history entry without changing the status."""
        if self.r.exists(notice_key(notice_id)):
            self.r.rpush(history_key(notice_id), history_entry(status, detail, **extra))

    def set_fields(self, notice_id: str, fields: Mapping[str, str]) -> None:
        if fields and self.r.exists(notice_key(notice_id)):
            self.r.hset(notice_key(notice_id), mapping=dict(fields))

    def claim(self, notice_id: str, lease_seconds: float, force: bool = False) -> Claim:
        now = time.time()
        until = repr(round(now + lease_seconds, 3))
        result = self._claim(keys=[notice_key(notice_id), SCHED, event_key(notice_id)],
                             args=[now, until, notice_id, "force" if force else ""])
        if result[0] != "ok":
            return Claim(outcome=result[0], status=result[1])
        flat = result[3]
        record = dict(zip(flat[::2], flat[1::2], strict=True))
        return Claim(outcome="ok", status=result[1], attempts=int(record["attempts"]),
                     lease_until=until, interrupted=bool(result[2]), record=record,
                     event=result[4] or None)

    def due(self, limit: int = 500, grace: float = 300.0) -> list[str]:
        """Notices whose next attempt (or expired lease) is due; each is pushed ``grace``
        seconds ahead so that concurrent sweepers do not hand out the same notice twice."""
        now = time.time()
        return list(self._sweep(keys=[SCHED], args=[now, now + grace, limit]))

    # -- reading -----------------------------------------------------------------------
    def get(self, notice_id: str) -> dict[str, str] | None:
        record = self.r.hgetall(notice_key(notice_id))
        return dict(record) if record else None

    def find(self, ident: str) -> dict[str, str] | None:
        """By notice id, or by event id."""
        return self.get(ident) or self.get(notice_id_for(ident))

    def event(self, record: Mapping[str, str]) -> dict[str, Any]:
        """The notice's event (see merge_event)."""
        return merge_event(self.r.get(event_key(record["id"])), record)

    def history(self, notice_id: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(history_key(notice_id), 0, -1)]

    def latest_for_address(self, address: str) -> str | None:
        value = self.r.get(addr_key(address))
        return str(value) if value else None

    def counts(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        for status in Status:
            pipe.zcard(idx_status(status))
        return {str(s): int(n) for s, n in zip(Status, pipe.execute(), strict=True)}

    def ids(self, status: str | None = None, since: float | None = None,
            until: float | None = None, offset: int = 0, limit: int | None = None) -> list[str]:
        """Notice ids, newest first, by status (time of last change) or all (creation time)."""
        key = idx_status(status) if status else IDX_ALL
        return list(self.r.zrevrangebyscore(
            key, "+inf" if until is None else until, "-inf" if since is None else since,
            start=offset if limit is not None else None, num=limit))

    def records(self, ids: Iterable[str]) -> list[dict[str, str]]:
        ids = list(ids)
        pipe = self.r.pipeline(transaction=False)
        for notice_id in ids:
            pipe.hgetall(notice_key(notice_id))
        return [dict(r) for r in pipe.execute() if r]

    def prune(self, now: float | None = None) -> int:
        """Drop index entries of records that have expired (the records expire by TTL)."""
        cutoff = (time.time() if now is None else now) - self.ttl
        removed = int(self.r.zremrangebyscore(IDX_ALL, "-inf", cutoff))
        for status in Status:
            removed += int(self.r.zremrangebyscore(idx_status(status), "-inf", cutoff))
        return removed


def public(record: Mapping[str, str], with_history: list[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    """The record as the CLI and web pages show it (public field names and types)."""
    out: dict[str, Any] = {name: record.get(name) or None for name in RECORD_FIELDS}
    out["attempts"] = int(record.get("attempts") or 0)
    if record.get("smtp_code"):
        out["smtp_reply"] = {"code": int(record["smtp_code"]),
                             "message": record.get("smtp_message", ""),
                             "dsn": record.get("smtp_dsn") == "1"}
    if record.get("bounce"):
        out["bounce"] = json.loads(record["bounce"])
    if record.get("flag"):
        out["flag"] = record["flag"]
    if with_history is not None:
        out["history"] = with_history
    return out
