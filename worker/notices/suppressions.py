"""The suppression list, and what a bounce does beyond its notice: suppress, count, flag."""

from __future__ import annotations

import json
import logging
import time
from enum import StrEnum
from typing import Any

from worker import metrics
from worker.bounces.bounce import Bounce
from worker.bounces.reasons import MAILBOX_SOFT, SENDER_SIDE, Kind, Reason
from worker.intake.addresses import key as address_key
from worker.intake.addresses import mask
from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.record import iso
from worker.notices.store import Tracker
from worker.settings import Settings

log = logging.getLogger(__name__)


class Effect(StrEnum):
    """What a bounce did beyond its notice."""

    SUPPRESSED = "suppressed"  #: the address went on the suppression list
    FLAGGED = "flagged"  #: the refusal points at us: the notice is flagged for an operator
    NONE = "none"  #: nothing more


#: The changes kept per address (the newest): far more than any address ever sees.
LOG_KEEP = 200


class Action(StrEnum):
    """A change of an address's suppression, as its log records it."""

    ADDED = "added"  #: put on the list (a bounce, a complaint or an operator)
    REMOVED = "removed"  #: taken off the list by an operator


class Suppressions:
    def __init__(self, client: RedisClient) -> None:
        self.r = client

    def _log(self, pipe: Any, address: str, action: Action, by: str, why: str, at: float) -> None:
        entry = {"at": iso(at), "action": str(action), "by": by, "reason": why[:500]}
        pipe.rpush(keys.suppression_log(address), json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(keys.suppression_log(address), -LOG_KEEP, -1)

    def log(self, address: str) -> list[dict[str, str]]:
        """Every kept change of ``address``'s suppression, oldest first."""
        return [json.loads(e) for e in self.r.lrange(keys.suppression_log(address), 0, -1)]

    def lifted(self, address: str) -> bool:
        """True when an operator took ``address`` off the list and it has not gone back."""
        last = self.r.lindex(keys.suppression_log(address), -1)
        return (
            bool(last)
            and json.loads(last).get("action") == Action.REMOVED
            and not (self.get(address))
        )

    def add(
        self,
        address: str,
        *,
        notice_id: str | None,
        reason: str,
        status: str | None,
        kind: str,
        diagnostic: str | None = None,
        source: str = "bounce",
        by: str = "",
    ) -> None:
        """Put ``address`` on the list; ``by`` is who (an operator; else ``source``)."""
        now = time.time()
        record = {
            "address": address_key(address),
            "notice_id": notice_id or "",
            "reason": reason,
            "status": status or "",
            "kind": kind,
            "diagnostic": (diagnostic or "")[:500],
            "source": source,
            "at": iso(now),
        }
        pipe = self.r.pipeline()
        pipe.hset(keys.suppression(address), mapping=record)
        pipe.zadd(keys.SUPPRESSED, {address_key(address): now})
        why = " ".join(
            x for x in (reason, status or "", f"notice {notice_id}" if notice_id else "") if x
        )
        self._log(pipe, address, Action.ADDED, by or source, why, now)
        pipe.execute()

    def get(self, address: str) -> dict[str, str] | None:
        record = self.r.hgetall(keys.suppression(address))
        return dict(record) if record else None

    def remove(self, address: str, *, by: str = "", reason: str = "") -> bool:
        """Take ``address`` off the list (logged with who and why); False if it was not on."""
        if not self.get(address):
            return False
        pipe = self.r.pipeline()
        pipe.delete(keys.suppression(address))
        pipe.zrem(keys.SUPPRESSED, address_key(address))
        pipe.delete(keys.soft_bounces(address))
        # Off the list: the next failure of this address is news for the billing platform.
        pipe.delete(keys.unreachable(address))
        self._log(pipe, address, Action.REMOVED, by or "operator", reason, time.time())
        deleted = pipe.execute()[0]
        return bool(deleted)

    def list(self) -> list[dict[str, str]]:
        addresses = self.r.zrevrange(keys.SUPPRESSED, 0, -1)
        pipe = self.r.pipeline(transaction=False)
        for address in addresses:
            pipe.hgetall(keys.suppression(address))
        return [dict(r) for r in pipe.execute() if r]

    def count(self) -> int:
        return int(self.r.zcard(keys.SUPPRESSED))

    def soft_bounce(self, address: str, notice_id: str, window_days: int) -> int:
        """Record a mailbox-level soft bounce; return how many fell within the window."""
        now = time.time()
        key = keys.soft_bounces(address)
        pipe = self.r.pipeline()
        pipe.zadd(key, {f"{notice_id}:{now}": now})
        pipe.zremrangebyscore(key, "-inf", now - window_days * 86400)
        pipe.zcard(key)
        pipe.expire(key, window_days * 86400)
        _, _, count, _ = pipe.execute()
        return int(count)


def apply_bounce(
    bounce: Bounce,
    *,
    notice_id: str,
    address: str,
    tracker: Tracker,
    suppressions: Suppressions,
    settings: Settings,
) -> Effect:
    """Apply a bounce's consequences beyond its notice.

    Only a bad address is suppressed. Refusals that point at us (policy, spam, reputation,
    authentication) leave the address alone: the customer's mailbox is fine, our mail is
    not, and an operator has to act.
    """
    metrics.BOUNCES.labels(kind=str(bounce.kind), reason=str(bounce.reason)).inc()
    if not address:
        return Effect.NONE
    if bounce.reason is Reason.FEEDBACK:
        # A complaint: the mailbox works, but its owner calls our mail spam. Mailing it
        # again would hurt every later mail's delivery (providers count complaints).
        metrics.COMPLAINTS.inc()
        suppressions.add(
            address,
            notice_id=notice_id,
            reason=str(bounce.reason),
            status=None,
            kind="complaint",
            diagnostic=bounce.diagnostic,
            source="complaint",
        )
        log.warning("address %s suppressed after a complaint", mask(address))
        _unreachable(tracker, notice_id, bounce)
        return Effect.SUPPRESSED
    if bounce.kind is Kind.HARD:
        suppressions.add(
            address,
            notice_id=notice_id,
            reason=str(bounce.reason),
            status=bounce.status,
            kind=str(bounce.kind),
            diagnostic=bounce.diagnostic,
        )
        log.warning("address %s suppressed after a hard bounce (%s)", mask(address), bounce.reason)
        _unreachable(tracker, notice_id, bounce)
        return Effect.SUPPRESSED
    if bounce.reason in SENDER_SIDE:
        tracker.set_fields(notice_id, {"flag": f"sender:{bounce.reason}"})
        log.error("our mail was refused (%s): an operator should look; address kept", bounce.reason)
        return Effect.FLAGGED
    if bounce.reason in MAILBOX_SOFT and settings.suppress_soft_count > 0:
        count = suppressions.soft_bounce(address, notice_id, settings.suppress_soft_window_days)
        if count >= settings.suppress_soft_count:
            suppressions.add(
                address,
                notice_id=notice_id,
                reason=str(bounce.reason),
                status=bounce.status,
                kind=str(bounce.kind),
                diagnostic=bounce.diagnostic,
                source=f"{count} soft bounces",
            )
            _unreachable(tracker, notice_id, bounce)
            return Effect.SUPPRESSED
    return Effect.NONE


def _unreachable(tracker: Tracker, notice_id: str, bounce: Bounce) -> None:
    """Tell the billing platform the admin cannot be reached (once per episode: a status
    change to bounced may already have)."""
    if tracker.outbound is not None:
        current = (tracker.get(notice_id) or {}).get("status") or "sent"
        tracker.outbound.unreachable(notice_id, current, str(bounce.reason))
