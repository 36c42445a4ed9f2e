"""The notice store: records, history and indexes in Redis, every change one Lua script."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from worker.notices import keys
from worker.notices.connection import RedisClient, restart_patience, until_reachable
from worker.notices.lua import CLAIM, CONFIRM, CREATE, RELEASE, SWEEP, TRANSITION
from worker.notices.outbound import Outbound
from worker.notices.record import history_entry, iso, merge_event, notice_id_for
from worker.notices.scripts import ScriptBatch
from worker.notices.stats import HourlyStats
from worker.notices.status import TRANSITIONS, ClaimOutcome, Status, TransitionOutcome


@dataclass(frozen=True)
class Claim:
    """The right to make one send attempt, until ``lease_until``."""

    outcome: ClaimOutcome
    status: str
    attempts: int = 0
    lease_until: str = ""
    #: A previous attempt's lease expired without an outcome: that worker died, maybe
    #: after the relay had already accepted the mail.
    interrupted: bool = False
    #: The record as the claim left it, and the stored event (read in the same script).
    record: Mapping[str, str] | None = None
    event: str | None = None


class Tracker:
    """Reads and changes notice records; every change is atomic (a Lua script)."""

    def __init__(
        self,
        client: RedisClient,
        retention_days: int = 90,
        history_cap: int = 200,
        outbound: Outbound | None = None,
    ) -> None:
        self.r = client
        #: Told of every status change (the pdn:events stream, the outbound webhook).
        self.outbound = outbound
        self.ttl = retention_days * 86400
        #: History entries kept per notice (the newest): one report naming a notice
        #: thousands of times must not grow its record without bound.
        self.history_cap = history_cap
        self.stats = HourlyStats(client, retention_days)
        self._create = client.register_script(CREATE)
        self._transition = client.register_script(TRANSITION)
        self._claim = client.register_script(CLAIM)
        self._sweep = client.register_script(SWEEP)
        self._release = client.register_script(RELEASE)
        self._confirm = client.register_script(CONFIRM)

    # -- writing -----------------------------------------------------------------------
    def create(
        self,
        notice_id: str,
        status: Status,
        fields: Mapping[str, str],
        detail: str,
        schedule_at: float | None = None,
        event: str = "{}",
        sequence: str | None = None,
    ) -> tuple[bool, str]:
        """Create the record unless it exists; returns (created, current status).

        With ``sequence``, a step of a sequence that is no longer open (or is in another
        round than the step's ``round`` field) is created ``cancelled``, in the same script.
        """
        now = time.time()
        record = {
            "id": notice_id,
            "status": str(status),
            "attempts": "0",
            "created_at": iso(now),
            "updated_at": iso(now),
            **fields,
        }
        flat = [x for kv in record.items() for x in kv]
        script_keys = [
            keys.notice(notice_id),
            keys.history(notice_id),
            keys.SCHED,
            keys.event(notice_id),
        ]
        if sequence:
            script_keys.append(keys.sequence(sequence))
        result = self._create(
            keys=script_keys,
            args=[
                str(status),
                now,
                history_entry(status, detail, now),
                self.ttl,
                keys.PREFIX,
                notice_id,
                keys.address(record.get("to", "")),
                "" if schedule_at is None else schedule_at,
                event,
                *flat,
            ],
        )
        created = result[0] == "created"
        if created:
            # The counters and the events stream in one more round trip, not one each.
            batch = ScriptBatch(self.r)
            self.stats.count(str(status), None, now, batch=batch)
            if self.outbound is not None:
                why, address = fields.get("reason", ""), fields.get("to", "")
                self.outbound.changed(notice_id, status, why, now, address=address, batch=batch)
            batch.run()
        return created, result[1]

    def transition(
        self,
        notice_id: str,
        target: Status,
        detail: str,
        *,
        fields: Mapping[str, str] | None = None,
        schedule_at: float | None = None,
        unschedule: bool = False,
        lease: str = "",
        history: bool = True,
        **extra: Any,
    ) -> tuple[TransitionOutcome, str]:
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
            keys=[keys.notice(notice_id), keys.history(notice_id), keys.SCHED],
            args=[
                str(target),
                allowed,
                now,
                entry,
                sched,
                keys.PREFIX,
                notice_id,
                lease,
                iso(now),
                self.history_cap,
                *flat,
            ],
        )
        outcome = TransitionOutcome(result[0])
        if outcome is TransitionOutcome.OK:
            batch = ScriptBatch(self.r)
            bounce = (fields or {}).get("bounce")
            self.stats.count_change(str(target), bounce, now, result[2:5], batch=batch)
            if self.outbound is not None and result[1] != str(target):
                reason = str(extra.get("reason") or (fields or {}).get("reason") or "")
                address = str(result[4]) if len(result) > 4 else None
                self.outbound.changed(notice_id, target, reason, now, address=address, batch=batch)
            batch.run()
        return outcome, result[1]

    def note(self, notice_id: str, status: str, detail: str, **extra: Any) -> None:
        """Add a history entry without changing the status."""
        if self.r.exists(keys.notice(notice_id)):
            pipe = self.r.pipeline()
            pipe.rpush(keys.history(notice_id), history_entry(status, detail, **extra))
            pipe.ltrim(keys.history(notice_id), -self.history_cap, -1)
            pipe.execute()

    def set_fields(self, notice_id: str, fields: Mapping[str, str]) -> None:
        if fields and self.r.exists(keys.notice(notice_id)):
            self.r.hset(keys.notice(notice_id), mapping=dict(fields))

    def point_address(self, address: str, notice_id: str) -> None:
        """Make ``notice_id`` the latest notice to ``address`` (a replay to a new address)."""
        self.r.set(keys.address(address), notice_id, ex=self.ttl)

    def claim(self, notice_id: str, lease_seconds: float, force: bool = False) -> Claim:
        now = time.time()
        # The lease names this claim: microseconds, so that no two claims share one.
        until = repr(round(now + lease_seconds, 6))
        args = [now, until, notice_id, "force" if force else "", keys.PREFIX, iso(now)]

        def run() -> Any:
            return self._claim(
                keys=[keys.notice(notice_id), keys.SCHED, keys.event(notice_id)],
                args=[*args, self.history_cap],
            )

        # A claim whose reply was lost may have been made: the same call again (the same
        # lease) is recognised by the script instead of finding the notice busy.
        result = until_reachable(run, now + restart_patience(lease_seconds), "claiming a send")
        if result[0] != "ok":
            return Claim(outcome=ClaimOutcome(result[0]), status=result[1])
        flat = result[3]
        record = dict(zip(flat[::2], flat[1::2], strict=True))
        return Claim(
            outcome=ClaimOutcome.OK,
            status=result[1],
            attempts=int(record["attempts"]),
            lease_until=until,
            interrupted=bool(result[2]),
            record=record,
            event=result[4] or None,
        )

    def confirm(self, notice_id: str, lease: str) -> str:
        """Right before SMTP: 'ok' to send; 'stale' (the lease is no longer this attempt's)
        or 'cancelled' (its sequence closed meanwhile; the step is now cancelled)."""
        now = time.time()
        return str(
            self._confirm(
                keys=[keys.notice(notice_id)],
                args=[lease, keys.PREFIX, now, iso(now), notice_id, self.history_cap],
            )
        )

    def release(self, notice_id: str, lease: str, after: float = 1.0) -> bool:
        """Give back an unused claim (``lease`` must still be the notice's): due again in
        ``after`` seconds, the attempt not counted."""
        return bool(
            self._release(
                keys=[keys.notice(notice_id), keys.SCHED],
                args=[lease, time.time() + after, notice_id],
            )
        )

    def due(self, limit: int = 500, grace: float = 300.0) -> list[str]:
        """Notices whose next attempt (or expired lease) is due; each is pushed ``grace``
        seconds ahead so that concurrent sweepers do not hand out the same notice twice."""
        now = time.time()
        return list(self._sweep(keys=[keys.SCHED], args=[now, now + grace, limit]))

    # -- reading -----------------------------------------------------------------------
    def get(self, notice_id: str) -> dict[str, str] | None:
        record = self.r.hgetall(keys.notice(notice_id))
        return dict(record) if record else None

    def find(self, ident: str) -> dict[str, str] | None:
        """By notice id, or by event id."""
        return self.get(ident) or self.get(notice_id_for(ident))

    def event(self, record: Mapping[str, str]) -> dict[str, Any]:
        """The notice's event (see merge_event)."""
        return merge_event(self.r.get(keys.event(record["id"])), record)

    def history(self, notice_id: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(keys.history(notice_id), 0, -1)]

    def latest_for_address(self, address: str) -> str | None:
        value = self.r.get(keys.address(address))
        return str(value) if value else None

    def counts(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        for status in Status:
            pipe.zcard(keys.idx_status(status))
        return {str(s): int(n) for s, n in zip(Status, pipe.execute(), strict=True)}

    def ids(
        self,
        status: str | None = None,
        since: float | None = None,
        until: float | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[str]:
        """Notice ids, newest first, by status (time of last change) or all (creation time)."""
        key = keys.idx_status(status) if status else keys.IDX_ALL
        top, bottom = ("+inf" if until is None else until), ("-inf" if since is None else since)
        start = offset if limit is not None else None
        return list(self.r.zrevrangebyscore(key, top, bottom, start=start, num=limit))

    def records(self, ids: Iterable[str]) -> list[dict[str, str]]:
        ids = list(ids)
        pipe = self.r.pipeline(transaction=False)
        for notice_id in ids:
            pipe.hgetall(keys.notice(notice_id))
        return [dict(r) for r in pipe.execute() if r]

    def prune(self, now: float | None = None) -> int:
        """Drop index entries of records that have expired (the records expire by TTL)."""
        cutoff = (time.time() if now is None else now) - self.ttl
        removed = int(self.r.zremrangebyscore(keys.IDX_ALL, "-inf", cutoff))
        for status in Status:
            removed += int(self.r.zremrangebyscore(keys.idx_status(status), "-inf", cutoff))
        return removed
