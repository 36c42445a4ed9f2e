"""One typed bounce: what a refusal or a failure report says about one notice's recipient."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.bounces.reasons import Kind, Reason, classify, enhanced_codes, kind_for

#: The diagnostic is kept up to this length (the history keeps the whole reply).
MAX_DIAGNOSTIC = 500


@dataclass(frozen=True, slots=True)
class Bounce:
    """A failed delivery, as stored in the notice record and shown by the CLI and pages.

    The same value whether the relay refused the recipient at RCPT or a failure report
    came back later: one shape from the parser to the page.
    """

    kind: Kind  #: hard: the address is bad; soft: it may work later
    reason: Reason  #: one word of the taxonomy (see worker.bounces.reasons)
    status: str | None  #: the enhanced status code (RFC 3463) when one was given
    code: int | None  #: the SMTP reply code when one was given
    diagnostic: str | None  #: the receiving side's own words, cut to MAX_DIAGNOSTIC
    reported_at: str  #: RFC 3339 UTC time the bounce was recorded

    @classmethod
    def from_refusal(cls, code: int | None, text: str, reported_at: str) -> Bounce:
        """Classify a refusal at RCPT, as the parser classifies a failure report."""
        status = next(iter(enhanced_codes(text)), None)
        reason = classify(status, code, text, "failed")
        return cls(
            kind=kind_for(reason, "failed"),
            reason=reason,
            status=status,
            code=code,
            diagnostic=text[:MAX_DIAGNOSTIC] or None,
            reported_at=reported_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "reason": str(self.reason),
            "status": self.status,
            "code": self.code,
            "diagnostic": self.diagnostic,
            "reported_at": self.reported_at,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bounce:
        """Read a stored bounce; raises ValueError for a kind or reason outside the enums."""
        when = data.get("reported_at")
        if isinstance(when, (int, float)):  # older records kept RCPT refusals as an epoch
            when = (
                datetime.fromtimestamp(when, tz=UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )
        code = data.get("code")
        return cls(
            kind=Kind(data.get("kind") or "soft"),
            reason=Reason(str(data.get("reason"))),
            status=data.get("status") or None,
            code=int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None,
            diagnostic=data.get("diagnostic") or None,
            reported_at=str(when or ""),
        )

    @classmethod
    def loads(cls, text: str) -> Bounce:
        return cls.from_json(json.loads(text))
