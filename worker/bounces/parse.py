"""Turn one inbound email into per-recipient delivery reports; never raises on hostile input."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from typing import Any, Final

from worker.bounces import mime
from worker.bounces.detectors import DETECTORS, Found, context_for, flufl_failures
from worker.bounces.reasons import Kind, Reason, classify, enhanced_codes, kind_for

log = logging.getLogger(__name__)

__all__ = ["BounceParseError", "Parsed", "Report", "parse_bytes", "parse_message"]

MAX_DIAGNOSTIC: Final = 500
_ACTIONS: Final = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
# Non-standard Action values seen in the wild: OpenSMTPD writes "error", others "failure".
_ACTION_ALIASES: Final = {"error": "failed", "failure": "failed", "fail": "failed",
                          "delay": "delayed", "deliver": "delivered"}
_ACTION_BY_CLASS: Final = {"2": "delivered", "4": "delayed", "5": "failed"}
_TYPE_PREFIX: Final = re.compile(r"^\s*[a-z][\w.+-]{0,20}\s*;\s*", re.IGNORECASE)
_LEADING_SMTP: Final = re.compile(r"^\s*([245]\d\d)(?=[\s-]|$)")
# A reply code anywhere in free text: "said: 550 5.1.1", "554: delivery error", "(552-...".
_ANY_SMTP: Final = re.compile(r"(?<![\d.])([245][0-5]\d)(?=[\s:-])")
_MESSAGE_ID: Final = re.compile(r"<[^<>\s]{3,250}>")
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


NOT_A_BOUNCE: Final = Parsed()


def parse_bytes(data: bytes) -> Parsed:
    """Parse raw RFC 5322 bytes; garbage in gives an empty non-bounce Parsed out."""
    try:
        # compat32 keeps undecodable header bytes as surrogates instead of raising on access.
        msg = BytesParser(policy=compat32).parsebytes(bytes(data))
    except Exception:  # malformed input must never take the worker down
        log.warning("bounce: unparseable message", exc_info=True)
        return NOT_A_BOUNCE
    return parse_message(msg)


def parse_message(msg: Message) -> Parsed:
    """Parse an already-parsed message (compat32 policy recommended)."""
    try:
        return _parse(msg)
    except Exception:  # the last line of defence: bounce mail is written by strangers
        log.warning("bounce: failed to parse message", exc_info=True)
        return NOT_A_BOUNCE


def _parse(msg: Message) -> Parsed:
    returned_to = mime.returned_to(msg)
    parts, dsn_parts, returned_parts = mime.split_parts(msg)
    message_ids = _original_message_ids(returned_parts, parts)
    reports: list[Report] = []
    envelope_ids: list[str] = []
    # RFC 3464 fields are the only machine-readable account; when present they win outright.
    for part in dsn_parts:
        reports.extend(_dsn_reports(part, envelope_ids, message_ids))
    if reports:
        return Parsed(tuple(_dedupe(reports)), tuple(envelope_ids), tuple(message_ids),
                      returned_to, True)
    # Everything below is heuristic, and flufl.bounce's LLNL detector alone turns any
    # ", someone@example.net," in a customer's reply into a "permanent failure": gate first.
    if not mime.looks_like_bounce(msg):
        return Parsed(returned_to=returned_to)
    text = mime.notification_text(parts)
    exclude = set(returned_to) | set(mime.sender_addresses(msg))
    found, source = flufl_failures(msg, text, exclude), "flufl"
    for name, detector in DETECTORS:
        if found:
            break
        found, source = detector(msg, text, exclude), name
    reports = [_text_report(item, text, source) for item in found]
    return Parsed(tuple(_dedupe(reports)), (), tuple(message_ids), returned_to, bool(reports))


def _dedupe(reports: list[Report]) -> list[Report]:
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


def _strip_type(value: str | None) -> str | None:
    """Drop an RFC 3464 type prefix: "rfc822; a@b" → "a@b", "smtp; 550 ..." → "550 ..."."""
    if value is None:
        return None
    return _TYPE_PREFIX.sub("", value, count=1).strip() or None


def _address(value: str | None) -> str | None:
    """A bare lowercased address from a recipient field, or None if it is not one."""
    bare = _strip_type(value)
    if not bare:
        return None
    bare = bare.strip().strip("<>\"' ").lower()
    return bare if "@" in bare and " " not in bare and len(bare) <= 320 else None


def _action(raw: str | None, status: str | None) -> str:
    word = (raw or "").strip().lower().split(" ", 1)[0].strip("()")
    word = _ACTION_ALIASES.get(word, word)
    if word in _ACTIONS:
        return word
    return _ACTION_BY_CLASS.get((status or "x")[0], "failed")


def _dsn_reports(part: Message, envelope_ids: list[str], message_ids: list[str]) -> list[Report]:
    blocks = mime.dsn_blocks(part)
    if not blocks:
        return []
    per_message = blocks[0]
    envid = one_line(per_message.get("original-envelope-id"), 200)
    if envid and envid not in envelope_ids:
        envelope_ids.append(envid)
    # Gmail names the bounced message here even when it returns no headers at all.
    found = _MESSAGE_ID.search(per_message.get("x-original-message-id", ""))
    if found and found.group(0) not in message_ids:
        message_ids.append(found.group(0))
    out: list[Report] = []
    for fields in blocks:
        recipient = _address(fields.get("final-recipient")) or _address(
            fields.get("x-actual-recipient")) or _address(fields.get("original-recipient"))
        if recipient is None:
            continue
        diagnostic = one_line(_strip_type(fields.get("diagnostic-code")))
        codes = enhanced_codes(fields.get("status")) or enhanced_codes(diagnostic)
        status = codes[0] if codes else None
        smtp = _LEADING_SMTP.match(diagnostic or "")
        smtp_code = int(smtp.group(1)) if smtp else None
        action = _action(fields.get("action"), status)
        reason = classify(status, smtp_code, diagnostic, action)
        out.append(Report(
            recipient=recipient, action=action, status=status, reason=reason,
            kind=kind_for(reason, action), diagnostic=diagnostic, smtp_code=smtp_code,
            original_recipient=_address(fields.get("original-recipient")),
            envelope_id=one_line(fields.get("original-envelope-id"), 200) or envid,
            remote_mta=one_line(_strip_type(fields.get("remote-mta")), 255),
            source="rfc3464",
        ))
    return out


def _text_report(item: Found, text: str, source: str) -> Report:
    diagnostic = one_line(item.diagnostic or context_for(item.address, text))
    codes = enhanced_codes(diagnostic)
    status = codes[0] if codes else None
    smtp = _ANY_SMTP.search(diagnostic or "")
    smtp_code = int(smtp.group(1)) if smtp else None
    reason = classify(status, smtp_code, diagnostic, item.action)
    return Report(
        recipient=item.address, action=item.action, status=status, reason=reason,
        kind=kind_for(reason, item.action), diagnostic=diagnostic, smtp_code=smtp_code,
        original_recipient=None, envelope_id=None, remote_mta=None, source=source,
    )


_MESSAGE_ID_LINE: Final = re.compile(r"^[ \t>]*message-id:[ \t]*(<[^<>\s]{3,250}>)",
                                     re.IGNORECASE | re.MULTILINE)


def _original_message_ids(returned: list[Message], parts: list[Message]) -> list[str]:
    """Message-IDs of the message that bounced: from attached copies, else quoted headers."""
    ids: list[str] = []
    for part in returned:
        for headers in mime.returned_headers(part, HeaderParser(policy=compat32)):
            found = _MESSAGE_ID.search(mime.header(headers, "message-id"))
            if found and found.group(0) not in ids:
                ids.append(found.group(0))
    for part in parts:
        for match in _MESSAGE_ID_LINE.finditer(mime.part_text(part)):
            if match.group(1) not in ids:
                ids.append(match.group(1))
    return ids
