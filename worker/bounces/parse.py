"""Turn one inbound email into per-recipient delivery reports; never raises on hostile input."""

from __future__ import annotations

import dataclasses
import logging
import re
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from typing import Final

from worker.bounces import mime
from worker.bounces.detectors import (
    complaint_findings,
    context_for,
    failed_recipients_header,
    flufl_failures,
)
from worker.bounces.mime_message import IndexedMessage
from worker.bounces.mime_sniff import Sniff
from worker.bounces.mta.base import Family
from worker.bounces.parse_dsn import MESSAGE_ID, dsn_reports
from worker.bounces.parse_text import (
    NO_FAMILY,
    claiming_family,
    family_findings,
    notice_summary,
    refusal_reports,
    returned_recipients,
    text_report,
    with_expansions,
)
from worker.bounces.parse_values import NOT_A_BOUNCE, BounceParseError, Parsed, Report, Tie
from worker.bounces.reasons import Kind, Reason

log = logging.getLogger(__name__)

__all__ = [
    "NOT_A_BOUNCE",
    "BounceParseError",
    "Parsed",
    "Report",
    "parse_bytes",
    "parse_message",
    "parse_strict",
]

# Families whose layout alone proves a mail system wrote the notice, even when its From:
# and Subject: look personal (SES's SNS JSON, fml's and James' list refusals, carriers).
_EVIDENT_LAYOUTS: Final = frozenset(
    {"amazon", "fml", "apachejames", "japan", "verizon", "sendmail", "dragonfly", "opensmtpd"}
)


def parse_bytes(data: bytes) -> Parsed:
    """Parse raw RFC 5322 bytes; garbage in gives an empty non-bounce Parsed out."""
    try:
        # compat32 keeps undecodable header bytes as surrogates instead of raising on access.
        msg = BytesParser(IndexedMessage, policy=compat32).parsebytes(bytes(data))
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
    sniff = Sniff(msg)
    returned_to = mime.returned_to(msg)
    parts, dsn_parts, returned_parts = mime.split_parts(msg)
    # Each part is read once: the returned message's header sets, and each leaf's text.
    parser = HeaderParser(policy=compat32)
    returned = [h for part in returned_parts for h in mime.returned_headers(part, parser)]
    texts = [mime.part_text(p) for p in parts]
    message_ids = _original_message_ids(returned, texts)
    senders = mime.original_senders(returned, texts)
    tie = Tie(tuple(message_ids), returned_to, senders)
    feedback = [p for p in parts if p.get_content_type() == mime.FEEDBACK_TYPE]
    if feedback or sniff.report_type == "feedback-report":
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
            for f in complaint_findings(feedback, returned)
        ]
        return tie.parsed(reports, (), is_complaint=True)
    text = mime.notification_text(parts, texts)
    if sniff.report_type == "disposition-notification":
        return tie.parsed(refusal_reports(msg, text), ())
    # The family that claims the notice: worked out when a report or the heuristics need it.
    claimed: list[Family] = []

    def family_of() -> Family:
        if not claimed:
            claimed.append(claiming_family(msg, text))
        return claimed[0]

    reports = []
    envelope_ids: list[str] = []
    # RFC 3464 fields are the only machine-readable account; when present they win outright.
    for part in dsn_parts:
        blocks = mime.dsn_blocks(part)
        reports.extend(dsn_reports(blocks, envelope_ids, message_ids, text, family_of))
    if not reports and sniff.bounce:
        # DSN fields pasted into the text (Amazon WorkMail, PMDF, gateways that flatten the
        # report, a multipart/report whose boundary broke): the same fields, read from text.
        blocks = mime.parse_fields(text)
        if any("final-recipient" in b or "original-recipient" in b for b in blocks):
            reports = dsn_reports(blocks, envelope_ids, message_ids, text, family_of)
    if reports:
        tie = Tie(tuple(message_ids), returned_to, senders)
        return tie.parsed(reports, tuple(envelope_ids))
    if depth < _MAX_NESTING and sniff.bounce:
        # A gateway that wraps the real notice (DSN and all) as its "returned message".
        for inner in _returned_bounces(returned_parts):
            nested = _parse(inner, depth + 1)
            if nested.reports:
                return Tie(
                    tuple(message_ids) + nested.original_message_ids,
                    returned_to,
                    senders + nested.original_senders,
                ).parsed(list(nested.reports), nested.envelope_ids)
    family = family_of()
    # Everything below is heuristic, and flufl.bounce's LLNL detector alone turns any
    # ", someone@example.net," in a customer's reply into a "permanent failure": gate first.
    if not (sniff.bounce or (family.name in _EVIDENT_LAYOUTS and not sniff.auto_reply)):
        return Parsed(returned_to=returned_to, original_senders=senders)
    # The layouts name recipients in fixed places, so only the notice's own sender is
    # excluded there; the loose fallbacks also skip every address the bounce was sent to.
    senders_of_notice = set(sniff.senders)
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
    detected_by, findings = with_expansions(
        *family_findings(msg, text, senders_of_notice, family), senders_of_notice
    )
    reports = [text_report(item, text, detected_by.name, detected_by) for item in findings]
    if not reports:
        found = flufl_failures(msg, text, exclude) or failed_recipients_header(msg, exclude)
        if len(found) == 1 and not (found[0].diagnostic or context_for(found[0].address, text)):
            # The only recipient, named in headers or the returned copy but not in the
            # notice (Exim's "save to file" lines, local aliases): the notice explains it.
            found = [dataclasses.replace(found[0], diagnostic=notice_summary(text))]
        reports = [text_report(item, text, "flufl", family) for item in found]
    if not reports and (family is not NO_FAMILY or dsn_parts or sniff.daemon):
        # The notice names nobody ("Delivery report unavailable", a V5 sendmail transcript
        # that names only the host): the returned message's own To: is who it was for.
        found = returned_recipients(msg, returned, text, exclude)
        reports = [text_report(item, text, "returned", family) for item in found]
    return tie.parsed(reports, ())


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


_MESSAGE_ID_LINE: Final = re.compile(
    r"^[ \t>]*message-id:[ \t]*(<[^<>\s]{3,250}>)", re.IGNORECASE | re.MULTILINE
)


def _original_message_ids(returned: list[Message], texts: list[str]) -> list[str]:
    """Message-IDs of the message that bounced: from the header sets of attached copies,
    else from headers quoted in the text of the notice's parts."""
    ids: list[str] = []
    for headers in returned:
        found = MESSAGE_ID.search(mime.header(headers, "message-id"))
        if found and found.group(0) not in ids:
            ids.append(found.group(0))
    for text in texts:
        for match in _MESSAGE_ID_LINE.finditer(text):
            if match.group(1) not in ids:
                ids.append(match.group(1))
    return ids
