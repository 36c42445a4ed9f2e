"""Tie a report to its notice, by a value we signed and nothing weaker.

The bounce endpoint is the public MX of the bounce domain: anyone can send it a DSN. A
report therefore changes a notice only when it carries proof that we issued: a valid
return-path token (in the address it was sent to, or in the returned copy's Return-Path),
a signed ENVID, or a signed Message-ID in the returned headers (see worker.smtp.proof).
Notice ids themselves are derived from event ids, so anyone who knows an event id can
compute one: an unsigned ENVID, an old unsigned Message-ID or the report's address only
point an operator at a candidate (``bounces unmatched``), and are never applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from worker.bounces.parse import Parsed
from worker.notices.store import Tracker
from worker.settings import Settings
from worker.smtp.proof import (
    UNSIGNED_MESSAGE_ID,
    envelope_id_candidate,
    message_id_candidate,
    token_candidate,
    verify_envelope_id,
    verify_message_id,
    verify_return_path,
)

_NOTICE_ID: Final = re.compile(r"^[0-9a-f]{20}$")


class Proof(StrEnum):
    """Which signed value tied a report to its notice, strongest first."""

    RETURN_PATH = "token"  #: the return-path token of the address the report was sent to
    RETURNED_RETURN_PATH = "returned-token"  #: the token in the returned copy's Return-Path
    ENVID = "envid"  #: the signed DSN envelope id (Original-Envelope-Id)
    MESSAGE_ID = "message-id"  #: the signed Message-ID in the returned headers


class NoProof(StrEnum):
    """Why a report is not applied."""

    FORGED = "forged"  #: a value shaped like ours whose signature does not verify
    UNSIGNED = "no proof"  #: nothing signed at all (an address or an unsigned id at most)
    CONFLICT = "conflicting proofs"  #: valid proofs for different notices in one message


@dataclass(frozen=True)
class Tie:
    """What a message's proofs say: the notice, or why there is none."""

    notice_id: str | None
    proof: Proof | None = None
    why: NoProof | None = None
    #: Where the unsigned clues point (an operator may look; nothing is applied).
    candidate: str | None = None
    #: The clue behind ``candidate``: "envid", "message-id" or "address".
    candidate_by: str | None = None


class TieBack:
    """Finds the notice a message is about, from the values we signed."""

    def __init__(self, tracker: Tracker | None, settings: Settings) -> None:
        #: Only for the unsigned clues shown to an operator; proofs need no store.
        self.tracker = tracker
        self.settings = settings

    def find(self, parsed: Parsed, envelope_rcpts: Iterable[str] = ()) -> Tie:
        settings = self.settings
        proven: dict[str, Proof] = {}
        forged = False
        sources: list[tuple[Proof, list[str]]] = [
            (Proof.RETURN_PATH, [*envelope_rcpts, *parsed.returned_to]),
            (Proof.RETURNED_RETURN_PATH, list(parsed.original_senders)),
        ]
        for proof, addresses in sources:
            for address in addresses:
                if not token_candidate(address, settings):
                    continue
                found = verify_return_path(address, settings)
                if found:
                    proven.setdefault(found.notice_id, proof)
                else:
                    forged = True
        for value in self._envelope_ids(parsed):
            if envelope_id_candidate(value):
                found = verify_envelope_id(value, settings)
                if found:
                    proven.setdefault(found.notice_id, Proof.ENVID)
                else:
                    forged = True
        for value in parsed.original_message_ids:
            if message_id_candidate(value):
                found = verify_message_id(value, settings)
                if found:
                    proven.setdefault(found.notice_id, Proof.MESSAGE_ID)
                else:
                    forged = True
        if len(proven) > 1:
            return Tie(None, why=NoProof.CONFLICT)
        if proven:
            [(notice_id, proof)] = proven.items()
            return Tie(notice_id, proof)
        candidate, by = self._unsigned_clue(parsed)
        return Tie(
            None,
            why=NoProof.FORGED if forged else NoProof.UNSIGNED,
            candidate=candidate,
            candidate_by=by,
        )

    @staticmethod
    def _envelope_ids(parsed: Parsed) -> list[str]:
        values = list(parsed.envelope_ids)
        for report in parsed.reports:
            if report.envelope_id and report.envelope_id not in values:
                values.append(report.envelope_id)
        return values

    def _unsigned_clue(self, parsed: Parsed) -> tuple[str | None, str | None]:
        """The notice an unsigned ENVID, an old Message-ID or the address points at."""
        if self.tracker is None:
            return None, None
        for value in self._envelope_ids(parsed):
            bare = value.strip().lower()
            if _NOTICE_ID.match(bare) and self.tracker.get(bare) is not None:
                return bare, "envid"
        for value in parsed.original_message_ids:
            match = UNSIGNED_MESSAGE_ID.match(value.strip().lower())
            if match and self.tracker.get(match["id"]) is not None:
                return match["id"], "message-id"
        for report in parsed.reports:
            latest = self.tracker.latest_for_address(report.recipient)
            if latest and self.tracker.get(latest) is not None:
                return latest, "address"
        return None, None
