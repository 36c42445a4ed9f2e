"""Erasing what the store holds about one address, for a data-deletion request.

The notices stay (their ids, statuses and times: the counts an operator relies on); what
identifies the person goes: the address wherever it is written, the names in the stored
event, its suppression and that suppression's log, the dead letters and unmatched reports
that mention it. A notice not sent yet is failed first: there is nobody to send it to.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from worker.intake.addresses import key as address_key
from worker.notices import keys
from worker.notices.pipeline import Pipeline
from worker.notices.record import STORED_ORDER
from worker.notices.status import Status

log = logging.getLogger(__name__)

#: What the address is replaced with.
ERASED = "(erased)"
#: The names in a stored event that identify a person (or their company).
_NAMES = ("admin_name", "account_name")


@dataclass
class Erasure:
    """What one address left in the store (a dry run) or what was erased."""

    notices: list[str] = field(default_factory=list)  #: notices that mention it
    pending: list[str] = field(default_factory=list)  #: of those, not sent yet: failed
    dead_letters: list[str] = field(default_factory=list)
    unmatched: int = 0  #: reports that could not be tied to a notice
    suppression: bool = False  #: a suppression or a suppression log

    def empty(self) -> bool:
        return not (self.notices or self.dead_letters or self.unmatched or self.suppression)

    def summary(self) -> str:
        return (
            f"{len(self.notices)} notice(s) ({len(self.pending)} not sent yet: failed), "
            f"{len(self.dead_letters)} dead letter(s), {self.unmatched} unmatched report(s), "
            f"suppression: {'yes' if self.suppression else 'no'}"
        )


def forget(pipeline: Pipeline, address: str, *, dry_run: bool = True) -> Erasure:
    """Find (``dry_run``) or erase everything the store holds about ``address``."""
    # The whole address only: bob@example.com is not in jimbob@example.com.
    pattern = re.compile(
        rf"(?<![\w.!#$%&'*+/=?^`{{|}}~-]){re.escape(address_key(address))}(?![\w.-])",
        re.IGNORECASE,
    )
    r = pipeline.r
    found = Erasure()
    tracker = pipeline.tracker
    for record in tracker.records(tracker.ids()):
        notice_id = record["id"]
        history = r.lrange(keys.history(notice_id), 0, -1)
        stored = r.get(keys.event(notice_id)) or ""
        texts = [*record.values(), *history, stored]
        if not any(pattern.search(t) for t in texts):
            continue
        found.notices.append(notice_id)
        if record.get("status") in (Status.QUEUED, Status.DEFERRED):
            found.pending.append(notice_id)
        if not dry_run:
            _erase_notice(pipeline, record, stored, pattern)
    for letter in pipeline.dead.list(limit=1_000_000):
        if any(pattern.search(v) for v in letter.values()):
            found.dead_letters.append(letter["id"])
            if not dry_run:
                pipeline.dead.drop(letter["id"])
    for entry in r.lrange(keys.UNMATCHED, 0, -1):
        if pattern.search(entry):
            found.unmatched += 1
            if not dry_run:
                r.lrem(keys.UNMATCHED, 0, entry)
    found.suppression = bool(
        r.exists(
            keys.suppression(address), keys.suppression_log(address), keys.soft_bounces(address)
        )
    )
    if not dry_run:
        r.zrem(keys.SUPPRESSED, address_key(address))
        r.delete(
            keys.suppression(address),
            keys.suppression_log(address),
            keys.soft_bounces(address),
            keys.address(address),
            keys.unreachable(address),  # named by the address, like the suppression keys
        )
        # Without the address: the log must not keep what was just erased.
        log.warning("erased one address's data on request: %s", found.summary())
    return found


def _erase_notice(
    pipeline: Pipeline,
    record: dict[str, str],
    stored: str,
    pattern: re.Pattern[str],
) -> None:
    notice_id = record["id"]
    r = pipeline.r
    if record.get("status") in (Status.QUEUED, Status.DEFERRED):
        pipeline.tracker.transition(
            notice_id, Status.FAILED, "address erased on request", unschedule=True
        )
        record = pipeline.tracker.get(notice_id) or record
    history = r.lrange(keys.history(notice_id), 0, -1)
    changed = {k: pattern.sub(ERASED, v) for k, v in record.items() if pattern.search(v)}
    if changed:
        r.hset(keys.notice(notice_id), mapping=changed)
    # Entry by entry (LSET) and KEEPTTL: the notice's data still expires when it would have.
    for index, entry in enumerate(history):
        if pattern.search(entry):
            r.lset(keys.history(notice_id), index, pattern.sub(ERASED, entry))
    if stored:
        r.set(keys.event(notice_id), _without_names(pattern.sub(ERASED, stored)), keepttl=True)


def _without_names(stored: str) -> str:
    """The stored event (array or older object form) with its personal names taken out."""
    data = json.loads(stored)
    if isinstance(data, list):
        for name in _NAMES:
            position = STORED_ORDER.index(name)
            if position < len(data) and data[position] is not None:
                data[position] = ERASED
    elif isinstance(data, dict):
        for name in _NAMES:
            if name in data:
                data[name] = ERASED
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
