"""Apply inbound reports to their notices: bounces, delays, deliveries and complaints."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from worker.bounces.bounce import Bounce
from worker.bounces.parse import Parsed, Report, parse_bytes
from worker.bounces.reasons import Kind, Reason
from worker.bounces.sources import read_messages
from worker.bounces.spool import Spool
from worker.bounces.tieback import NoProof, Proof, Tie, TieBack
from worker.intake.addresses import key as address_key
from worker.intake.addresses import mask
from worker.notices import keys
from worker.notices.connection import RedisClient
from worker.notices.record import iso
from worker.notices.status import Status, TransitionOutcome
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions, apply_bounce
from worker.settings import Settings

__all__ = ["Applied", "BounceProcessor", "Outcome", "Unmatched", "read_messages"]

log = logging.getLogger(__name__)

#: The unmatched list keeps this many of the newest entries.
UNMATCHED_KEEP = 10_000


class Outcome(StrEnum):
    """What one report did."""

    BOUNCED = "bounced"  #: a failure report: the notice bounced
    DELIVERED = "delivered"  #: a success report: the notice was delivered
    DEFERRED = "deferred"  #: a delay report after "sent": the receiving side still tries
    RECORDED = "recorded"  #: kept in the notice's history, status unchanged
    COMPLAINT = "complaint"  #: the recipient marked the notice as spam (ARF)
    UNMATCHED = "unmatched"  #: no proof we sent it: listed for an operator, not applied
    FORGED = "forged"  #: a signed value that does not verify: listed, never applied
    SKIPPED = "skipped"  #: one report too many in one message (BOUNCE_MAX_RECIPIENTS)


@dataclass(frozen=True)
class Applied:
    """What one report did, and how its notice was found."""

    report: Report
    notice_id: str | None
    matched_by: str | None  #: the Proof that tied it, or None
    effect: Outcome


class Unmatched:
    """Reports that could not be tied to a notice (and forged ones), for an operator."""

    def __init__(self, client: RedisClient) -> None:
        self.r = client

    def add(self, entry: dict[str, Any]) -> None:
        self.r.lpush(keys.UNMATCHED, json.dumps(entry, ensure_ascii=False))
        self.r.ltrim(keys.UNMATCHED, 0, UNMATCHED_KEEP - 1)

    def list(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(keys.UNMATCHED, 0, limit - 1)]


def _recipient_matches(report: Report, address: str) -> bool:
    """The report is about the notice's own address (Final- or Original-Recipient)."""
    want = address_key(address)
    return bool(want) and want in {
        address_key(a) for a in (report.recipient, report.original_recipient) if a
    }


class BounceProcessor:
    """Parses inbound reports, ties each to its notice by proof, and applies it."""

    def __init__(
        self,
        tracker: Tracker,
        suppressions: Suppressions,
        settings: Settings,
        spool: Spool | None = None,
    ) -> None:
        self.tracker = tracker
        self.suppressions = suppressions
        self.settings = settings
        self.tie = TieBack(tracker, settings)
        self.unmatched_store = Unmatched(tracker.r)
        self.spool = spool

    def process(
        self, data: bytes, envelope_rcpts: Iterable[str] = (), source: str = ""
    ) -> list[Applied]:
        parsed = parse_bytes(data)
        if not parsed.is_bounce:
            log.info("not a bounce (%s); nothing to apply", source or "message")
            return []
        tie = self.tie.find(parsed, envelope_rcpts)
        limit = self.settings.bounce_max_recipients
        results: list[Applied] = []
        kept: str | None = None
        applied: set[tuple[str, str]] = set()
        record = self.tracker.get(tie.notice_id) if tie.notice_id else None
        for n, report in enumerate(parsed.reports):
            if n >= limit:
                results.append(Applied(report, None, None, Outcome.SKIPPED))
                continue
            why: str | None = None
            if tie.notice_id is None:
                why = str(tie.why or NoProof.UNSIGNED)
            elif record is None:
                why = "proof for a notice that does not exist (expired or never sent)"
            elif not _recipient_matches(report, record.get("to", "")):
                why = "recipient is not the notice's address"
            elif (report.action, address_key(report.recipient)) in applied:
                continue  # the same recipient twice in one report: once is enough
            if why is not None:
                if kept is None and self.spool is not None:
                    kept = str(self.spool.keep(data, "unmatched"))
                results.append(self._unmatched(report, parsed, tie, why, source, kept))
                continue
            assert tie.notice_id is not None and record is not None
            applied.add((report.action, address_key(report.recipient)))
            effect = self.apply(tie.notice_id, record, report, tie.proof)
            results.append(Applied(report, tie.notice_id, str(tie.proof), effect))
        skipped = sum(r.effect is Outcome.SKIPPED for r in results)
        if skipped:
            log.warning(
                "a report named %d recipients; the last %d were not read",
                len(parsed.reports),
                skipped,
            )
        return results

    def apply(
        self,
        notice_id: str,
        record: dict[str, str],
        report: Report,
        proof: Proof | str | None,
        extra: dict[str, Any] | None = None,
    ) -> Outcome:
        """Apply one tied report; ``extra`` goes into each history entry it writes (a
        provider webhook's own event, say)."""
        more = extra or {}
        tracker = self.tracker
        status = record.get("status") or ""
        reported = {
            "action": report.action,
            "status": report.status,
            "reason": str(report.reason),
            "kind": str(report.kind),
            "diagnostic": report.diagnostic,
            "recipient": report.recipient,
            "matched_by": str(proof) if proof else None,
        }
        detail = (
            f"{report.action} report from the receiving side: "
            f"{report.status or 'no status'} {report.reason}"
        )
        if report.action == "complaint":
            return self._complaint(notice_id, record, report, reported, more)
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
                **more,
            )
            if outcome is not TransitionOutcome.OK:
                tracker.note(notice_id, status, detail, report=reported, **more)
            # The notice's own address, never the report's: a report names whom it likes.
            apply_bounce(
                bounce,
                notice_id=notice_id,
                address=record.get("to", ""),
                tracker=tracker,
                suppressions=self.suppressions,
                settings=self.settings,
            )
            return Outcome.BOUNCED
        if report.action == "delayed":
            # A delay never undoes "delivered"; after "sent" the notice shows the delay, but
            # stays out of our retry schedule: the receiving side is still trying.
            if status == Status.SENT:
                delayed = {"dsn_delayed": "1"}
                tracker.transition(
                    notice_id, Status.DEFERRED, detail, report=reported, fields=delayed, **more
                )
                return Outcome.DEFERRED
            tracker.note(notice_id, status, detail, report=reported, **more)
            return Outcome.RECORDED
        # delivered, relayed, expanded: the receiving side has taken the mail. From queued or
        # deferred only when a worker has handed it to the relay (its "sent" was never
        # written): a success report for a notice nobody sent is not believed.
        if status in (Status.QUEUED, Status.DEFERRED) and not record.get("handed_at"):
            detail += " (ignored: never handed to the relay)"
            tracker.note(notice_id, status, detail, report=reported, **more)
            return Outcome.RECORDED
        outcome, _ = tracker.transition(
            notice_id,
            Status.DELIVERED,
            detail,
            report=reported,
            unschedule=True,
            fields={"dsn_delayed": ""},
            **more,
        )
        if outcome is not TransitionOutcome.OK:
            tracker.note(notice_id, status, detail, report=reported, **more)
            return Outcome.RECORDED
        return Outcome.DELIVERED

    def _complaint(
        self,
        notice_id: str,
        record: dict[str, str],
        report: Report,
        reported: dict[str, Any],
        more: dict[str, Any],
    ) -> Outcome:
        """The recipient marked the notice as spam: it was delivered, so its status stays;
        the address is suppressed (mailing someone who complains hurts every later mail)."""
        self.tracker.note(
            notice_id,
            record.get("status") or "",
            "complaint: the recipient reported this notice as spam",
            kind="complaint",
            report=reported,
            **more,
        )
        bounce = Bounce(
            kind=Kind.NONE,
            reason=Reason.FEEDBACK,
            status=None,
            code=None,
            diagnostic=report.diagnostic,
            reported_at=iso(),
        )
        apply_bounce(
            bounce,
            notice_id=notice_id,
            address=record.get("to", ""),
            tracker=self.tracker,
            suppressions=self.suppressions,
            settings=self.settings,
        )
        return Outcome.COMPLAINT

    def _unmatched(
        self, report: Report, parsed: Parsed, tie: Tie, why: str, source: str, kept: str | None
    ) -> Applied:
        entry: dict[str, Any] = {
            "id": uuid.uuid4().hex[:12],
            "at": iso(),
            "why": why,
            **report.to_json(None),
            "returned_to": [mask(a) for a in parsed.returned_to],
            "source": source,
        }
        if tie.candidate:
            entry.update(candidate=tie.candidate, candidate_by=tie.candidate_by)
        if kept:
            entry["file"] = kept
        self.unmatched_store.add(entry)
        log.warning("report for %s not applied (%s)", mask(report.recipient), why)
        forged = tie.why is NoProof.FORGED and tie.notice_id is None
        return Applied(report, None, None, Outcome.FORGED if forged else Outcome.UNMATCHED)

    def keep(self, data: bytes, why: str) -> str | None:
        """Write a message to the spool folder for inspection (None without a spool)."""
        return str(self.spool.keep(data, why)) if self.spool is not None else None

    def unmatched(self, limit: int = 1000) -> list[dict[str, Any]]:
        return self.unmatched_store.list(limit)
