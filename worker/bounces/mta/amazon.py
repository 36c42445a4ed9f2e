"""Amazon SES (JSON notifications and its own DSNs) and Amazon WorkMail."""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import Any, Final

from worker.bounces.mta.base import Family, Format, Found, clean, compile_phrases, scan

# SES forwards its event notifications by email (through SNS) as a JSON document whose
# "notificationType" is Bounce, Complaint or Delivery.  A Bounce lists bouncedRecipients with
# emailAddress, action, status and diagnosticCode; bounceType is Permanent or Transient and
# bounceSubType says why when there is no remote reply: "Suppressed" / "OnAccountSuppression
# List" (SES itself refused to send to an address that bounced before), "NoEmail", "General",
# "MailboxFull", "MessageTooLarge", "ContentRejected", "AttachmentRejected".  A Delivery
# carries the remote "smtpResponse"; a Complaint names complainedRecipients.
# WorkMail writes "An error occurred while trying to deliver the mail to the following
# recipients:" and puts its RFC 3464 fields in the text ("Technical report:"), which the
# generic reader of DSN fields in text handles; this layout is the fallback.
_SUBTYPES: Final[dict[str, str]] = {
    "suppressed": "suppressed",
    "onaccountsuppressionlist": "suppressed",
    "noemail": "userunknown",
    "mailboxfull": "mailboxfull",
    "messagetoolarge": "mesgtoobig",
    "contentrejected": "contenterror",
    "attachmentrejected": "policyviolation",
}
_WORKMAIL: Final = Format(
    start=re.compile(
        r"error occurred while trying to deliver the mail to the following "
        r"recipients",
        re.I,
    ),
    end=re.compile(r"^\s*technical report:", re.I | re.M),
)
_JSON_START: Final = re.compile(r"\{\s*\"notificationType\"")


def _document(text: str) -> dict[str, Any] | None:
    start = _JSON_START.search(text)
    if start is None:
        return None
    try:
        value, _end = json.JSONDecoder().raw_decode(text[start.start() :])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _from_json(doc: dict[str, Any], exclude: set[str]) -> list[Found]:
    kind = str(doc.get("notificationType", "")).lower()
    out: list[Found] = []
    if kind == "bounce":
        bounce = doc.get("bounce") or {}
        transient = str(bounce.get("bounceType", "")).lower() == "transient"
        subtype = _SUBTYPES.get(str(bounce.get("bounceSubType", "")).lower())
        for item in bounce.get("bouncedRecipients") or []:
            if not isinstance(item, dict):
                continue
            addr = clean(str(item.get("emailAddress", "")), exclude, system_ok=True)
            if addr:
                status = item.get("status")
                out.append(
                    Found(
                        addr,
                        "delayed" if transient else "failed",
                        item.get("diagnosticCode") or None,
                        status if isinstance(status, str) else None,
                        remote_host=bounce.get("reportingMTA"),
                        reason=subtype,
                    )
                )
    elif kind == "delivery":
        delivery = doc.get("delivery") or {}
        for raw in delivery.get("recipients") or []:
            addr = clean(str(raw), exclude, system_ok=True)
            if addr:
                out.append(
                    Found(
                        addr,
                        "delivered",
                        delivery.get("smtpResponse"),
                        remote_host=delivery.get("remoteMtaIp"),
                    )
                )
    elif kind == "complaint":
        complaint = doc.get("complaint") or {}
        for item in complaint.get("complainedRecipients") or []:
            addr = clean(str((item or {}).get("emailAddress", "")), exclude, system_ok=True)
            if addr:
                out.append(
                    Found(
                        addr, "complaint", complaint.get("complaintFeedbackType"), reason="feedback"
                    )
                )
    return out


def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    doc = _document(text)
    if doc is not None:
        return _from_json(doc, exclude)
    return scan(_WORKMAIL, text, exclude)


def claims(msg: Message, text: str) -> bool:
    markers = (msg.get("x-ses-outgoing"), msg.get("x-mailer"), msg.get("from"))
    joined = " ".join(str(m) for m in markers if m).lower()
    return (
        "amazonses" in joined
        or "amazon workmail" in joined
        or "sns.amazonaws" in joined
        or msg.get("x-ses-outgoing") is not None
        or bool(_JSON_START.search(text[:4000]))
    )


FAMILY: Final = Family(
    "amazon",
    claims,
    detect,
    compile_phrases(
        (
            (
                "suppressed",
                (
                    r"has suppressed sending to this address|on the (?:account-level )?"
                    r"suppression list|address is on the suppression list",
                ),
            ),
        )
    ),
)

# SES as the *receiving* side: a receipt rule's Bounce action answers with a DSN whose only
# text is "This message could not be delivered." and whose reply is one of the rule's
# canned templates.  The template is the site owner's choice, not a finding about the
# mailbox: "Mailbox does not exist" is a refusal (filtered), "Mailbox full", "Message too
# large", "Message content rejected" say what they say; "Temporary failure" and "Unknown
# failure" say nothing (on hold).
_RECEIVING: Final = re.compile(r"^\s*this message could not be delivered\.\s*$", re.I | re.M)


def _receiving_claims(msg: Message, text: str) -> bool:
    return msg.get("x-ses-outgoing") is not None and bool(_RECEIVING.search(text[:2000]))


RECEIVING: Final = Family(
    "sesreceiving",
    _receiving_claims,
    lambda msg, text, exclude: [],
    compile_phrases(
        (
            ("filtered", (r"\bmailbox does not exist\b",)),
            ("mesgtoobig", (r"\bmessage too large\b",)),
            ("mailboxfull", (r"\bmailbox full\b",)),
            ("contenterror", (r"\bmessage content rejected\b",)),
            ("onhold", (r"\b(?:temporary|unknown) failure\b",)),
        )
    ),
)
