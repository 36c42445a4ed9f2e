"""Tie bounces and DSNs back to their notices and apply them; keep what cannot be tied."""

from __future__ import annotations

import json
import logging
import mailbox
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.bounces.bounce import Bounce
from worker.bounces.parse import Parsed, Report, parse_bytes
from worker.intake.addresses import mask
from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.record import iso
from worker.notices.status import Status, TransitionOutcome
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions, apply_bounce
from worker.settings import Settings
from worker.smtp.returnpath import token_candidate, verify

log = logging.getLogger(__name__)

#: The unmatched list keeps this many of the newest entries.
UNMATCHED_KEEP = 10_000
_NOTICE_ID = re.compile(r"^[0-9a-f]{20}$")
_OUR_MESSAGE_ID = re.compile(r"^<?([0-9a-f]{20})\.\d+@")


@dataclass(frozen=True)
class Applied:
    """What one report did."""

    report: Report
    notice_id: str | None
    matched_by: str | None  #: token, envid, message-id, address, or None
    effect: str  #: bounced, delivered, deferred, recorded, unmatched or forged


class Unmatched:
    """Reports that could not be tied to a notice (and forged ones), for an operator."""

    def __init__(self, client: RedisClient) -> None:
        self.r = client

    def add(self, entry: dict[str, Any]) -> None:
        self.r.lpush(keys.UNMATCHED, json.dumps(entry, ensure_ascii=False))
        self.r.ltrim(keys.UNMATCHED, 0, UNMATCHED_KEEP - 1)

    def list(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(keys.UNMATCHED, 0, limit - 1)]


class TieBack:
    """Finds the notice a bounce is about, most trustworthy clue first."""

    def __init__(self, tracker: Tracker, settings: Settings) -> None:
        self.tracker = tracker
        self.settings = settings

    def _exists(self, notice_id: str) -> bool:
        return self.tracker.get(notice_id) is not None

    def find(
        self, parsed: Parsed, report: Report, envelope_rcpts: Iterable[str] = ()
    ) -> tuple[str | None, str | None]:
        """(notice id, how it was found); ("", "forged") for a token that does not verify."""
        settings = self.settings
        addresses = [*envelope_rcpts, *parsed.returned_to]
        candidates = [a for a in addresses if token_candidate(a, settings)]
        for address in candidates:
            notice_id = verify(address, settings)
            if notice_id:
                return notice_id, "token"
        if candidates:
            # A token in our bounce domain that does not verify: forged or tampered with.
            # It is never applied, whatever else the message says.
            return "", "forged"
        for envid in [report.envelope_id, *parsed.envelope_ids]:
            if envid and _NOTICE_ID.match(envid.lower()) and self._exists(envid.lower()):
                return envid.lower(), "envid"
        for mid in parsed.original_message_ids:
            match = _OUR_MESSAGE_ID.match(mid.lower())
            if match and self._exists(match.group(1)):
                return match.group(1), "message-id"
        latest = self.tracker.latest_for_address(report.recipient)
        if latest and self._exists(latest):
            return latest, "address"
        return None, None


class BounceProcessor:
    """Parses inbound reports, ties each to its notice and applies it."""

    def __init__(
        self,
        tracker: Tracker,
        suppressions: Suppressions,
        settings: Settings,
        spool_dir: Path | None = None,
    ) -> None:
        self.tracker = tracker
        self.suppressions = suppressions
        self.settings = settings
        self.tie = TieBack(tracker, settings)
        self.unmatched_store = Unmatched(tracker.r)
        self.spool_dir = spool_dir

    def process(
        self, data: bytes, envelope_rcpts: Iterable[str] = (), source: str = ""
    ) -> list[Applied]:
        parsed = parse_bytes(data)
        if not parsed.is_bounce:
            log.info("not a bounce (%s); nothing to apply", source or "message")
            return []
        rcpts = list(envelope_rcpts)
        results = []
        for report in parsed.reports:
            notice_id, how = self.tie.find(parsed, report, rcpts)
            if not notice_id:
                results.append(self._unmatched(report, parsed, how, data, source))
                continue
            results.append(Applied(report, notice_id, how, self.apply(notice_id, report, how)))
        return results

    def apply(self, notice_id: str, report: Report, how: str | None) -> str:
        tracker = self.tracker
        record = tracker.get(notice_id) or {}
        status = record.get("status")
        reported = {
            "action": report.action,
            "status": report.status,
            "reason": str(report.reason),
            "kind": str(report.kind),
            "diagnostic": report.diagnostic,
            "recipient": report.recipient,
            "matched_by": how,
        }
        detail = (
            f"{report.action} report from the receiving side: "
            f"{report.status or 'no status'} {report.reason}"
        )
        if report.action == "failed":
            bounce = Bounce(
                kind=report.kind,
                reason=report.reason,
                status=report.status,
                code=report.smtp_code,
                diagnostic=report.diagnostic,
                reported_at=iso(),
            )
            outcome, _ = tracker.transition(
                notice_id,
                Status.BOUNCED,
                detail,
                unschedule=True,
                report=reported,
                fields={"bounce": bounce.dumps(), "last_error": detail},
            )
            if outcome is not TransitionOutcome.OK:
                tracker.note(notice_id, status or "", detail, report=reported)
            apply_bounce(
                bounce,
                notice_id=notice_id,
                address=record.get("to") or report.recipient,
                tracker=tracker,
                suppressions=self.suppressions,
                settings=self.settings,
            )
            return "bounced"
        if report.action == "delayed":
            # A delay never undoes "delivered"; after "sent" the notice shows the delay, but
            # stays out of our retry schedule: the receiving side is still trying.
            if status == Status.SENT:
                tracker.transition(
                    notice_id, Status.DEFERRED, detail, report=reported, fields={"dsn_delayed": "1"}
                )
                return "deferred"
            tracker.note(notice_id, status or "", detail, report=reported)
            return "recorded"
        # delivered, relayed, expanded: the receiving side has taken the mail.
        outcome, _ = tracker.transition(
            notice_id,
            Status.DELIVERED,
            detail,
            report=reported,
            unschedule=True,
            fields={"dsn_delayed": ""},
        )
        if outcome is not TransitionOutcome.OK:
            tracker.note(notice_id, status or "", detail, report=reported)
            return "recorded"
        return "delivered"

    def _unmatched(
        self, report: Report, parsed: Parsed, how: str | None, data: bytes, source: str
    ) -> Applied:
        entry = {
            "id": uuid.uuid4().hex[:12],
            "at": iso(),
            "why": how or "no match",
            **report.to_json(None),
            "returned_to": [mask(a) for a in parsed.returned_to],
            "source": source,
        }
        if self.spool_dir:
            entry["file"] = str(self.keep(data, f"unmatched-{entry['id']}"))
        self.unmatched_store.add(entry)
        log.warning(
            "bounce for %s could not be tied to a notice (%s)", mask(report.recipient), entry["why"]
        )
        return Applied(report, None, None, "forged" if how == "forged" else "unmatched")

    def keep(self, data: bytes, name: str) -> Path:
        """Write a message to the spool folder for inspection."""
        assert self.spool_dir is not None
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}.eml"
        path.write_bytes(data)
        return path

    def unmatched(self, limit: int = 1000) -> list[dict[str, Any]]:
        return self.unmatched_store.list(limit)


def read_messages(path: str, stdin: Any = None) -> Iterator[tuple[str, bytes]]:
    """Messages from a .eml file, a folder of them, a Maildir, an mbox, or ``-`` (stdin)."""
    if path == "-":
        yield "<stdin>", (stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read())
        return
    p = Path(path)
    if p.is_dir():
        if (p / "cur").is_dir() and (p / "new").is_dir():
            box = mailbox.Maildir(str(p), factory=None, create=False)
            for key in box.iterkeys():
                yield f"{p}:{key}", box.get_bytes(key)
            return
        for child in sorted(p.iterdir()):
            if child.is_file() and not child.name.startswith("."):
                yield from read_messages(str(child))
        return
    with p.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        mbox = mailbox.mbox(str(p), create=False)
        try:
            for n, key in enumerate(mbox.iterkeys()):
                yield f"{p}#{n}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield str(p), p.read_bytes()
