"""Turn one inbound email into per-recipient delivery reports; never raises on hostile input."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from typing import Any, Final

from worker.bounces import mime, mta
from worker.bounces.detectors import (
    complaint_findings,
    context_for,
    failed_recipients_header,
    flufl_failures,
)
from worker.bounces.mta.base import (
    ORIGINAL_MARKER,
    Family,
    Found,
    clean,
    command_in,
    notice_only,
    verdict,
)
from worker.bounces.reasons import Kind, Reason, classify, enhanced_codes, kind_for

log = logging.getLogger(__name__)

__all__ = ["BounceParseError", "Parsed", "Report", "parse_bytes", "parse_message", "parse_strict"]

MAX_DIAGNOSTIC: Final = 500
_ACTIONS: Final = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
# Non-standard Action values seen in the wild: OpenSMTPD writes "error", others "failure".
_ACTION_ALIASES: Final = {
    "error": "failed",
    "failure": "failed",
    "fail": "failed",
    "delay": "delayed",
    "deliver": "delivered",
}
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
    #: Return-Path / X-Original-Return-Path / Sender of the returned message: our signed
    #: return path, when the bounce carries a copy of what we sent.
    original_senders: tuple[str, ...] = ()
    #: An ARF complaint (feedback report): reports have action "complaint", kind none.
    is_complaint: bool = False


NOT_A_BOUNCE: Final = Parsed()
# Families whose layout alone proves a mail system wrote the notice, even when its From:
# and Subject: look personal (SES's SNS JSON, fml's and James' list refusals, carriers).
# Layouts too plain to try on a notice their family did not claim ("<rcpt>" lines).
_CLAIMED_ONLY: Final = frozenset({"cjk_notice", "japan", "apachejames", "phquery", "imail"})
_EVIDENT_LAYOUTS: Final = frozenset(
    {"amazon", "fml", "apachejames", "japan", "verizon", "sendmail", "dragonfly", "opensmtpd"}
)
_NO_FAMILY: Final = Family("", lambda msg, text: False, lambda msg, text, exclude: [])


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
        return parse_strict(msg)
    except Exception:  # the last line of defence: bounce mail is written by strangers
        log.warning("bounce: failed to parse message", exc_info=True)
        return NOT_A_BOUNCE


def parse_strict(msg: Message) -> Parsed:
    """parse_message without its safety net: a parser error raises (for tests)."""
    return _parse(msg)


def _parse(msg: Message, depth: int = 0) -> Parsed:
    returned_to = mime.returned_to(msg)
    parts, dsn_parts, returned_parts = mime.split_parts(msg)
    message_ids = _original_message_ids(returned_parts, parts)
    texts = [mime.part_text(p) for p in parts]
    senders = mime.original_senders(returned_parts, texts, HeaderParser(policy=compat32))
    tie = _Tie(tuple(message_ids), returned_to, senders)
    feedback = [p for p in parts if p.get_content_type() == mime.FEEDBACK_TYPE]
    if feedback or mime.report_type(msg) == "feedback-report":
        reports = [
            Report(
                f.address,
                "complaint",
                None,
                Reason.FEEDBACK,
                Kind.NONE,
                f.diagnostic,
                None,
                f.address,
                None,
                None,
                "arf",
            )
            for f in complaint_findings(feedback, returned_parts)
        ]
        return tie.parsed(reports, (), is_complaint=True)
    text = mime.notification_text(parts)
    if mime.report_type(msg) == "disposition-notification":
        return tie.parsed(_refusal_reports(msg, text), ())
    family = _claiming_family(msg, text)
    reports = []
    envelope_ids: list[str] = []
    # RFC 3464 fields are the only machine-readable account; when present they win outright.
    for part in dsn_parts:
        reports.extend(_dsn_reports(mime.dsn_blocks(part), envelope_ids, message_ids, text, family))
    if not reports and mime.looks_like_bounce(msg):
        # DSN fields pasted into the text (Amazon WorkMail, PMDF, gateways that flatten the
        # report, a multipart/report whose boundary broke): the same fields, read from text.
        blocks = mime.parse_fields(text)
        if any("final-recipient" in b or "original-recipient" in b for b in blocks):
            reports = _dsn_reports(blocks, envelope_ids, message_ids, text, family)
    if reports:
        tie = _Tie(tuple(message_ids), returned_to, senders)
        return tie.parsed(reports, tuple(envelope_ids))
    if depth < _MAX_NESTING and mime.looks_like_bounce(msg):
        # A gateway that wraps the real notice (DSN and all) as its "returned message".
        for inner in _returned_bounces(returned_parts):
            nested = _parse(inner, depth + 1)
            if nested.reports:
                return _Tie(
                    tuple(message_ids) + nested.original_message_ids,
                    returned_to,
                    senders + nested.original_senders,
                ).parsed(list(nested.reports), nested.envelope_ids)
    # Everything below is heuristic, and flufl.bounce's LLNL detector alone turns any
    # ", someone@example.net," in a customer's reply into a "permanent failure": gate first.
    if not (
        mime.looks_like_bounce(msg)
        or (family.name in _EVIDENT_LAYOUTS and not mime.is_auto_reply(msg))
    ):
        return Parsed(returned_to=returned_to, original_senders=senders)
    # The layouts name recipients in fixed places, so only the notice's own sender is
    # excluded there; the loose fallbacks also skip every address the bounce was sent to.
    senders_of_notice = set(mime.sender_addresses(msg))
    # X-Original-To is left out: gateways that forward a notice copy the failed
    # recipient there, and where the bounce went is in To: and Delivered-To: anyway.
    exclude = (
        set(
            mime.addresses(
                [
                    v
                    for name in ("to", "delivered-to", "envelope-to", "x-envelope-to")
                    for v in mime.header_all(msg, name)
                ]
            )
        )
        | senders_of_notice
    )
    detected_by, findings = _with_expansions(
        *_family_findings(msg, text, senders_of_notice, family), senders_of_notice
    )
    reports = [_text_report(item, text, detected_by.name, detected_by) for item in findings]
    if not reports:
        found = flufl_failures(msg, text, exclude) or failed_recipients_header(msg, exclude)
        if len(found) == 1 and not (found[0].diagnostic or context_for(found[0].address, text)):
            # The only recipient, named in headers or the returned copy but not in the
            # notice (Exim's "save to file" lines, local aliases): the notice explains it.
            found = [dataclasses.replace(found[0], diagnostic=_notice_summary(text))]
        reports = [_text_report(item, text, "flufl", family) for item in found]
    if not reports and (family is not _NO_FAMILY or dsn_parts or mime.is_daemon(msg)):
        # The notice names nobody ("Delivery report unavailable", a V5 sendmail transcript
        # that names only the host): the returned message's own To: is who it was for.
        found = _returned_recipients(msg, returned_parts, text, exclude)
        reports = [_text_report(item, text, "returned", family) for item in found]
    return tie.parsed(reports, ())


@dataclass(frozen=True, slots=True)
class _Tie:
    """What ties a bounce to the notice it answers, whatever the reports say."""

    original_message_ids: tuple[str, ...]
    returned_to: tuple[str, ...]
    original_senders: tuple[str, ...]

    def parsed(
        self, reports: list[Report], envelope_ids: tuple[str, ...], *, is_complaint: bool = False
    ) -> Parsed:
        return Parsed(
            tuple(_dedupe(reports)),
            envelope_ids,
            self.original_message_ids,
            self.returned_to,
            bool(reports),
            self.original_senders,
            is_complaint,
        )


# RFC 5429: a Sieve "reject" (Dovecot's LDA answers an over-quota mailbox the same way)
# sends an MDN whose disposition is "deleted"; a read receipt says "displayed".
_DELETED: Final = re.compile(r"automatic-action\s*/\s*mdn-sent-automatically\s*;\s*deleted", re.I)


def _refusal_reports(msg: Message, text: str) -> list[Report]:
    fields = mime.mdn_fields(msg)
    if not _DELETED.search(fields.get("disposition", "")):
        return []
    recipient = _address(fields.get("original-recipient")) or _address(
        fields.get("final-recipient")
    )
    if recipient is None:
        return []
    why = fields.get("disposition", "")
    found = Found(recipient, "failed", one_line(notice_only(text)) or why)
    return [_text_report(found, text, "mdn", _NO_FAMILY)]


def _claiming_family(msg: Message, text: str) -> Family:
    for family in mta.FAMILIES:
        if family.claims(msg, text):
            return family
    return _NO_FAMILY


def _family_findings(
    msg: Message, text: str, exclude: set[str], first: Family
) -> tuple[Family, list[Found]]:
    """Recipients from the family that claims the message, else from any family whose
    layout matches (relays rewrite the headers that would have named the MTA)."""
    if first is not _NO_FAMILY:
        found = first.detect(msg, text, exclude)
        if found:
            return first, found
    for family in mta.FAMILIES:
        if family is first or family.name in _CLAIMED_ONLY:
            continue
        found = family.detect(msg, text, exclude)
        if found:
            return family, found
    cjk = mta.BY_NAME["cjk_notice"]
    return cjk, cjk.detect(msg, text, exclude)


_SUMMARY_WORDS: Final = 200
_MAX_NESTING: Final = 2


def _returned_bounces(returned: list[Message]) -> list[Message]:
    """Attached messages that are delivery reports themselves, not the copy of ours."""
    out: list[Message] = []
    for part in returned:
        payload = mime.raw_payload(part)
        for inner in payload if isinstance(payload, list) else []:
            if isinstance(inner, Message) and (
                mime.report_type(inner) == "delivery-status"
                or (mime.is_daemon(inner) and mime.looks_like_bounce(inner))
            ):
                out.append(inner)
    return out


def _notice_summary(text: str) -> str | None:
    """The notice's own words, without the returned message, for a recipient it never names."""
    words = notice_only(text).split()
    return " ".join(words[:_SUMMARY_WORDS]) or None


# sendmail's "(expanded from: <alias>)" and Postfix's "<rcpt> (expanded from <alias>):":
# the address we wrote to was the alias, and it fails with its target.
_EXPANDED: Final = re.compile(r"\(expanded from:?\s*<?([^\s<>()]+@[^\s<>()]+?)>?\s*\)", re.I)


def _with_expansions(
    family: Family, found: list[Found], exclude: set[str]
) -> tuple[Family, list[Found]]:
    out = list(found)
    for item in found:
        for alias in _EXPANDED.findall(item.diagnostic or ""):
            addr = clean(alias, exclude)
            if addr and all(f.address != addr for f in out):
                out.append(dataclasses.replace(item, address=addr))
    return family, out


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


def _dsn_reports(
    blocks: list[dict[str, str]],
    envelope_ids: list[str],
    message_ids: list[str],
    text: str,
    family: Family,
) -> list[Report]:
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
        # Original-Recipient is the address as we gave it (RFC 3464 2.3.1); Final-Recipient
        # may be the site's internal alias (Sun's "user@ims-ms-daemon", a forward target).
        original = _address(fields.get("original-recipient"))
        final = _address(fields.get("final-recipient")) or _address(
            fields.get("x-actual-recipient")
        )
        recipient = original or final
        if recipient is None:
            continue
        raw_diag = fields.get("diagnostic-code")
        diagnostic = one_line(_strip_type(raw_diag))
        context = context_for(recipient, text) if text else None
        status = best_status(fields.get("status"), diagnostic) or best_status(None, context)
        smtp_code = _smtp_code(diagnostic) or _smtp_code(context)
        action = _action(fields.get("action"), status)
        remote = one_line(_strip_type(fields.get("remote-mta")), 255)
        command = command_in(context) or command_in(diagnostic)
        evidence = diagnostic or one_line(context)
        # SendGrid and others write "Action: expired": given up after the retries.
        expired = (fields.get("action") or "").strip().lower().startswith("expired")
        reason = classify(
            status,
            smtp_code,
            evidence,
            action,
            command=command,
            host=remote,
            domain=recipient.rpartition("@")[2],
            told="expired" if expired else verdict(family.phrases, evidence),
            diagnostic_type=_diagnostic_type(raw_diag),
        )
        out.append(
            Report(
                recipient=recipient,
                action=action,
                status=status,
                reason=reason,
                kind=kind_for(reason, action),
                diagnostic=diagnostic,
                smtp_code=smtp_code,
                original_recipient=original,
                envelope_id=one_line(fields.get("original-envelope-id"), 200) or envid,
                remote_mta=remote,
                source="rfc3464",
            )
        )
    return out


def _text_report(item: Found, text: str, source: str, family: Family) -> Report:
    diagnostic = one_line(item.diagnostic or context_for(item.address, text))
    status = best_status(item.status, diagnostic)
    smtp_code = _smtp_code(diagnostic)
    told = item.reason or verdict(family.phrases, diagnostic)
    command = item.command or command_in(diagnostic)
    reason = classify(
        status,
        smtp_code,
        diagnostic,
        item.action,
        command=command,
        host=item.remote_host,
        told=told,
        domain=item.address.rpartition("@")[2],
    )
    return Report(
        recipient=item.address,
        action=item.action,
        status=status,
        reason=reason,
        kind=kind_for(reason, item.action),
        diagnostic=diagnostic,
        smtp_code=smtp_code,
        original_recipient=None,
        envelope_id=None,
        remote_mta=item.remote_host,
        source=source,
    )


# "550-5.7.1", "550 '5.7.1", "(#5.1.1)": a code quoted with its reply code is the remote
# server's own; a bare one may be the relay's summary ("5.1.0 - Unknown address error").
_QUOTED_STATUS: Final = re.compile(r"(?:\b[245]\d\d[ -]['\"]?#?|\(#)([245]\.\d{1,3}\.\d{1,3})\b")


def best_status(field: str | None, diagnostic: str | None) -> str | None:
    """The enhanced code of record: the Status field, unless it is only a class ("5.0.0")
    and the remote reply quotes a precise one of the same class."""
    codes = enhanced_codes(field)
    quoted = [m.group(1) for m in _QUOTED_STATUS.finditer(diagnostic or "")]
    in_text = quoted + enhanced_codes(diagnostic)
    if codes and not codes[0].endswith(".0.0"):
        return codes[0]
    klass = codes[0][0] if codes else None
    for code in in_text:
        if not code.endswith(".0.0") and (klass is None or code[0] == klass):
            return code
    return codes[0] if codes else (in_text[0] if in_text else None)


def _smtp_code(text: str | None) -> int | None:
    if not text:
        return None
    found = _LEADING_SMTP.match(text) or _ANY_SMTP.search(text)
    return int(found.group(1)) if found else None


def _diagnostic_type(raw: str | None) -> str | None:
    found = _TYPE_PREFIX.match(raw or "")
    return found.group(0).strip(" ;\t").lower() if found else None


_MESSAGE_ID_LINE: Final = re.compile(
    r"^[ \t>]*message-id:[ \t]*(<[^<>\s]{3,250}>)", re.IGNORECASE | re.MULTILINE
)


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


def _returned_recipients(
    msg: Message, returned: list[Message], text: str, exclude: set[str]
) -> list[Found]:
    """The To: of the returned message (attached, or quoted after the notice) as a failure
    explained by the whole notice and its subject, when the notice itself names nobody.
    Only a message to one person: with several, the notice does not say which failed."""
    parser = HeaderParser(policy=compat32)
    values: list[str] = []
    for part in returned:
        for headers in mime.returned_headers(part, parser):
            values.extend(mime.header_all(headers, "to"))
    if not values:
        marker = ORIGINAL_MARKER.search(text)
        if marker is not None:
            quoted = text[marker.end() :].split("\n", 1)[-1].lstrip("\n")
            values.extend(mime.header_all(parser.parsestr(quoted[:20_000]), "to"))
    found = [a for a in mime.addresses(values) if a not in exclude]
    if len(found) != 1:
        return []
    subject = mime.header(msg, "subject")
    diagnostic = one_line(" ".join(x for x in (notice_only(text), subject and f"({subject})") if x))
    return [Found(found[0], "failed", diagnostic)]
