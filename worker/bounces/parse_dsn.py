"""RFC 3464 field reports: Final-Recipient, Action, Status and Diagnostic-Code as Reports."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from worker.bounces.detectors import context_for
from worker.bounces.mta.base import Family, command_in, verdict
from worker.bounces.parse_values import Report, one_line
from worker.bounces.reasons import classify, enhanced_codes, kind_for

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
MESSAGE_ID: Final = re.compile(r"<[^<>\s]{3,250}>")


def strip_type(value: str | None) -> str | None:
    """Drop an RFC 3464 type prefix: "rfc822; a@b" → "a@b", "smtp; 550 ..." → "550 ..."."""
    if value is None:
        return None
    return _TYPE_PREFIX.sub("", value, count=1).strip() or None


def address(value: str | None) -> str | None:
    """A bare lowercased address from a recipient field, or None if it is not one."""
    bare = strip_type(value)
    if not bare:
        return None
    bare = bare.strip().strip("<>\"' ").lower()
    return bare if "@" in bare and " " not in bare and len(bare) <= 320 else None


def _verdict_of(family: Callable[[], Family], evidence: str | None) -> Callable[[], str | None]:
    return lambda: verdict(family().phrases, evidence)


def action_of(raw: str | None, status: str | None) -> str:
    word = (raw or "").strip().lower().split(" ", 1)[0].strip("()")
    word = _ACTION_ALIASES.get(word, word)
    if word in _ACTIONS:
        return word
    return _ACTION_BY_CLASS.get((status or "x")[0], "failed")


def dsn_reports(
    blocks: list[dict[str, str]],
    envelope_ids: list[str],
    message_ids: list[str],
    text: str,
    family: Callable[[], Family],
) -> list[Report]:
    """One Report per recipient block; family() is the mail system that claims the notice,
    whose own wording may decide a reason (asked only when one has to be decided)."""
    if not blocks:
        return []
    per_message = blocks[0]
    envid = one_line(per_message.get("original-envelope-id"), 200)
    if envid and envid not in envelope_ids:
        envelope_ids.append(envid)
    # Gmail names the bounced message here even when it returns no headers at all.
    found = MESSAGE_ID.search(per_message.get("x-original-message-id", ""))
    if found and found.group(0) not in message_ids:
        message_ids.append(found.group(0))
    out: list[Report] = []
    for fields in blocks:
        # Original-Recipient is the address as we gave it (RFC 3464 2.3.1); Final-Recipient
        # may be the site's internal alias (Sun's "user@ims-ms-daemon", a forward target).
        original = address(fields.get("original-recipient"))
        final = address(fields.get("final-recipient")) or address(fields.get("x-actual-recipient"))
        recipient = original or final
        if recipient is None:
            continue
        raw_diag = fields.get("diagnostic-code")
        diagnostic = one_line(strip_type(raw_diag))
        context = context_for(recipient, text) if text else None
        status = best_status(fields.get("status"), diagnostic) or best_status(None, context)
        smtp_code = reply_code(diagnostic) or reply_code(context)
        action = action_of(fields.get("action"), status)
        remote = one_line(strip_type(fields.get("remote-mta")), 255)
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
            told="expired" if expired else _verdict_of(family, evidence),
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


def reply_code(text: str | None) -> int | None:
    if not text:
        return None
    found = _LEADING_SMTP.match(text) or _ANY_SMTP.search(text)
    return int(found.group(1)) if found else None


def _diagnostic_type(raw: str | None) -> str | None:
    found = _TYPE_PREFIX.match(raw or "")
    return found.group(0).strip(" ;\t").lower() if found else None
