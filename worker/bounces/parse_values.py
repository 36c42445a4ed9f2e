"""The values a parse yields: one Report per recipient, the Parsed message, and what ties it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from worker.bounces.reasons_vocab import Kind, Reason

__all__ = [
    "MAX_DIAGNOSTIC",
    "NOT_A_BOUNCE",
    "BounceParseError",
    "Parsed",
    "Report",
    "Tie",
    "one_line",
]

MAX_DIAGNOSTIC: Final = 500
_SPACE: Final = re.compile(r"\s+")


class BounceParseError(Exception):
    """Reserved for callers that want to raise; parse_* return a non-bounce Parsed instead."""


@dataclass(frozen=True, slots=True)
class Report:
    """One recipient's fate as told by a bounce or DSN."""

    recipient: str
    action: str
    status: str | None
    reason: Reason
    kind: Kind
    diagnostic: str | None
    smtp_code: int | None
    original_recipient: str | None
    envelope_id: str | None
    remote_mta: str | None
    source: str

    def to_json(self, notice_id: str | None = None) -> dict[str, Any]:
        """The stable, storable shape of this report; the caller knows the notice id."""
        return {
            "recipient": self.recipient,
            "action": self.action,
            "status": self.status,
            "reason": str(self.reason),
            "kind": str(self.kind),
            "diagnostic": self.diagnostic,
            "notice_id": notice_id,
        }


@dataclass(frozen=True, slots=True)
class Parsed:
    """Everything a bounce says.  is_bounce means "a delivery report we understood": it is
    also true for success DSNs, whose reports have kind none."""

    reports: tuple[Report, ...] = ()
    envelope_ids: tuple[str, ...] = ()
    original_message_ids: tuple[str, ...] = ()
    returned_to: tuple[str, ...] = ()
    is_bounce: bool = False
    #: Return-Path / X-Original-Return-Path / Sender of the returned message: our signed
    #: return path, when the bounce carries a copy of what we sent.
    original_senders: tuple[str, ...] = ()
    #: An ARF complaint (feedback report): reports have action "complaint", kind none.
    is_complaint: bool = False


NOT_A_BOUNCE: Final = Parsed()


@dataclass(frozen=True, slots=True)
class Tie:
    """What ties a bounce to the notice it answers, whatever the reports say."""

    original_message_ids: tuple[str, ...]
    returned_to: tuple[str, ...]
    original_senders: tuple[str, ...]

    def parsed(
        self, reports: list[Report], envelope_ids: tuple[str, ...], *, is_complaint: bool = False
    ) -> Parsed:
        return Parsed(
            tuple(dedupe(reports)),
            envelope_ids,
            self.original_message_ids,
            self.returned_to,
            bool(reports),
            self.original_senders,
            is_complaint,
        )


def dedupe(reports: list[Report]) -> list[Report]:
    # Some MTAs (and some double bounces) repeat a recipient; the first block is the real one.
    seen: dict[str, Report] = {}
    for report in reports:
        seen.setdefault(report.recipient, report)
    return list(seen.values())


def one_line(text: str | None, limit: int = MAX_DIAGNOSTIC) -> str | None:
    """Collapse whitespace (folded header lines included) and cap the length."""
    if not text:
        return None
    flat = _SPACE.sub(" ", text).strip()
    return flat[:limit] or None
