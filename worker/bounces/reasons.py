"""Bounce reason taxonomy and classification from status code, SMTP reply and diagnostic text."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from worker.bounces.phrases import PHRASES


class Reason(StrEnum):
    """Why a delivery failed (or did not), in Sisimai's vocabulary."""

    #: The local part does not exist at the receiving domain (5.1.1, "User unknown").
    USERUNKNOWN = "userunknown"
    #: The recipient's domain does not exist or has no mail host (5.1.2, NXDOMAIN).
    HOSTUNKNOWN = "hostunknown"
    #: The recipient moved and the server names no forward we should follow (5.1.6, 551).
    HASMOVED = "hasmoved"
    #: The recipient's domain accepts no mail at all (null MX, 521/556, 5.3.2).
    NOTACCEPT = "notaccept"
    #: The recipient's mailbox is over quota (5.2.2); usually clears when they tidy up.
    MAILBOXFULL = "mailboxfull"
    #: The recipient's account exists but is disabled or suspended (5.2.1, 5.7.13).
    SUSPEND = "suspend"
    #: The recipient (or their filter rules) refused mail from us specifically.
    FILTERED = "filtered"
    #: Refused without a clear reason, or because of our envelope sender (5.7.1, 5.1.7/8).
    REJECTED = "rejected"
    #: Refused by the connecting IP or host name of our sending server (blocklists, RBL).
    BLOCKED = "blocked"
    #: Refused by a local policy of the receiving site (5.7.0, "policy reasons").
    POLICYVIOLATION = "policyviolation"
    #: The message content was judged to be spam.
    SPAMDETECTED = "spamdetected"
    #: The message content was judged to carry a virus or malware.
    VIRUSDETECTED = "virusdetected"
    #: SPF, DKIM or DMARC checks on our mail failed (5.7.23-5.7.27, 5.7.7).
    AUTHFAILURE = "authfailure"
    #: Our sending IP or domain has a poor reputation at the receiver.
    BADREPUTATION = "badreputation"
    #: The receiving server will not relay for us (we reached the wrong host).
    NORELAYING = "norelaying"
    #: The message is larger than the receiver accepts (5.3.4, 5.2.3).
    MESGTOOBIG = "mesgtoobig"
    #: The message is malformed or its content cannot be handled (5.6.x).
    CONTENTERROR = "contenterror"
    #: A per-recipient or per-message limit was exceeded (too many recipients, receive rate).
    EXCEEDLIMIT = "exceedlimit"
    #: The receiver throttles us: too many connections or messages too fast (4.7.28).
    TOOMANYCONN = "toomanyconn"
    #: The message sat in a queue until it timed out (4.4.7, 5.4.7).
    EXPIRED = "expired"
    #: Connecting or routing failed: timeouts, refused connections, DNS hiccups, loops.
    NETWORKERROR = "networkerror"
    #: The receiving mail system failed internally or is misconfigured (5.3.x).
    SYSTEMERROR = "systemerror"
    #: An SMTP protocol or command syntax error between the servers (5.5.x).
    SYNTAXERROR = "syntaxerror"
    #: Not a failure: the report says the message was delivered or relayed.
    DELIVERED = "delivered"
    #: Nothing in the report allowed a classification.
    UNDEFINED = "undefined"


class Kind(StrEnum):
    """How final a report is: hard (address is bad), soft (try later), none (no failure)."""

    HARD = "hard"
    SOFT = "soft"
    NONE = "none"


#: Reasons that mean the customer's address itself is wrong: only these ever make a hard bounce.
HARD_REASONS: Final = frozenset(
    {Reason.USERUNKNOWN, Reason.HOSTUNKNOWN, Reason.HASMOVED, Reason.NOTACCEPT}
)
#: Refusals pointing at us (our IP, domain, authentication, content): never suppress for these.
SENDER_SIDE: Final = frozenset(
    {
        Reason.POLICYVIOLATION,
        Reason.SPAMDETECTED,
        Reason.BADREPUTATION,
        Reason.AUTHFAILURE,
        Reason.BLOCKED,
        Reason.NORELAYING,
    }
)
#: Soft failures that live in the customer's mailbox and tend to repeat until they act.
MAILBOX_SOFT: Final = frozenset({Reason.MAILBOXFULL, Reason.SUSPEND})

_SUCCESS_ACTIONS: Final = frozenset({"delivered", "relayed", "expanded"})

# RFC 3463 "subject.detail" → reason; the class digit (4 or 5) decides kind, not reason.  The
# IANA "Enumerated Status Codes" registry is the source; departures are noted.
_STATUS: Final[dict[str, Reason]] = {
    "1.0": Reason.REJECTED,  # "other address status": too vague to call the address bad
    "1.1": Reason.USERUNKNOWN,
    "1.2": Reason.HOSTUNKNOWN,
    "1.3": Reason.USERUNKNOWN,  # destination address syntax: it will never deliver either
    "1.6": Reason.HASMOVED,
    "1.7": Reason.REJECTED,  # our sender address syntax
    "1.8": Reason.REJECTED,  # our sender's domain
    # IANA says 5.1.10 is "recipient has null MX", but Office 365 uses it for every unknown
    # recipient (RESOLVER.ADR.RecipientNotFound); text may still turn it into hostunknown.
    "1.10": Reason.USERUNKNOWN,
    "2.1": Reason.SUSPEND,  # "mailbox disabled, not accepting messages"
    "2.2": Reason.MAILBOXFULL,
    "2.3": Reason.MESGTOOBIG,
    "2.4": Reason.SYSTEMERROR,  # mailing list expansion problem at the receiver
    "3.0": Reason.SYSTEMERROR,
    "3.1": Reason.SYSTEMERROR,  # their mail system is full, not the customer's mailbox
    "3.2": Reason.NOTACCEPT,
    "3.3": Reason.SYSTEMERROR,
    "3.4": Reason.MESGTOOBIG,
    "3.5": Reason.SYSTEMERROR,
    "4.0": Reason.NETWORKERROR,
    "4.1": Reason.NETWORKERROR,  # "no answer from host"; O365 reuses 5.4.1 for unknown users
    "4.2": Reason.NETWORKERROR,
    "4.3": Reason.NETWORKERROR,
    "4.4": Reason.HOSTUNKNOWN,
    "4.5": Reason.TOOMANYCONN,  # mail system congestion
    "4.6": Reason.NETWORKERROR,  # routing loop
    "4.7": Reason.EXPIRED,
    "5.0": Reason.SYNTAXERROR,
    "6.0": Reason.CONTENTERROR,
    "7.0": Reason.POLICYVIOLATION,
    "7.1": Reason.REJECTED,  # "delivery not authorized": servers use it for everything
    "7.2": Reason.POLICYVIOLATION,
    "7.3": Reason.POLICYVIOLATION,
    "7.4": Reason.POLICYVIOLATION,
    "7.5": Reason.AUTHFAILURE,
    "7.6": Reason.AUTHFAILURE,
    "7.7": Reason.AUTHFAILURE,
    "7.8": Reason.AUTHFAILURE,
    "7.9": Reason.AUTHFAILURE,
    "7.10": Reason.AUTHFAILURE,
    "7.11": Reason.POLICYVIOLATION,
    "7.12": Reason.AUTHFAILURE,
    "7.13": Reason.SUSPEND,  # user account disabled
    "7.14": Reason.POLICYVIOLATION,
    "7.15": Reason.POLICYVIOLATION,
    "7.16": Reason.MESGTOOBIG,
    "7.17": Reason.HASMOVED,  # mailbox owner has changed (RFC 7293)
    "7.18": Reason.HASMOVED,  # domain owner has changed (RFC 7293)
    "7.20": Reason.AUTHFAILURE,  # 5.7.20..5.7.24: DKIM/SPF results (RFC 7372)
    "7.21": Reason.AUTHFAILURE,
    "7.22": Reason.AUTHFAILURE,
    "7.23": Reason.AUTHFAILURE,
    "7.24": Reason.AUTHFAILURE,
    "7.25": Reason.AUTHFAILURE,  # reverse DNS of our IP failed validation
    "7.26": Reason.AUTHFAILURE,  # Gmail/Yahoo: multiple authentication checks failed
    "7.27": Reason.AUTHFAILURE,  # our sender domain has a null MX
    "7.28": Reason.TOOMANYCONN,  # mail flood: Gmail's "unusual rate of unsolicited mail"
    "7.29": Reason.AUTHFAILURE,  # ARC validation failure
    "7.30": Reason.AUTHFAILURE,  # REQUIRETLS support required
}
# Subjects 5 and 6 have a single meaning whatever the detail.
_STATUS_SUBJECT: Final[dict[str, Reason]] = {"5": Reason.SYNTAXERROR, "6": Reason.CONTENTERROR}

# Codes so vague that the diagnostic text is a better witness: every x.y.0, plus x.7.1 (used
# for spam, blocklists, SPF and "unknown user" alike) and x.4.1 (Office 365's "Recipient
# address rejected: Access denied" is an unknown user behind directory-based edge blocking).
_REFINABLE_DETAIL: Final = frozenset({"7.1", "4.1"})
# For these specific codes only the listed text reasons may override: qmail/vpopmail report
# "user over quota (#5.1.1)", some servers put 5.1.1 on disabled accounts, and Gmail answers
# "450-4.2.1 ... receiving mail at a rate that prevents additional messages" for a recipient
# who gets too much mail (the registry meaning of x.2.1 is "mailbox disabled").
_TEXT_MAY_OVERRIDE: Final[dict[str, frozenset[Reason]]] = {
    "1.1": frozenset({Reason.MAILBOXFULL, Reason.SUSPEND}),
    "2.1": frozenset({Reason.EXCEEDLIMIT, Reason.TOOMANYCONN}),
    "1.10": frozenset({Reason.HOSTUNKNOWN}),
}

# Basic SMTP reply codes (RFC 5321, 7504).  Authoritative ones decide alone; the rest are a
# fallback used only when the text says nothing recognizable.
_SMTP_AUTHORITATIVE: Final[dict[int, Reason]] = {
    500: Reason.SYNTAXERROR, 501: Reason.SYNTAXERROR, 502: Reason.SYNTAXERROR,
    503: Reason.SYNTAXERROR, 504: Reason.SYNTAXERROR, 521: Reason.NOTACCEPT,
    551: Reason.HASMOVED, 556: Reason.NOTACCEPT,
}
_SMTP_FALLBACK: Final[dict[int, Reason]] = {
    421: Reason.SYSTEMERROR, 450: Reason.SYSTEMERROR, 451: Reason.SYSTEMERROR,
    452: Reason.SYSTEMERROR, 530: Reason.REJECTED, 535: Reason.AUTHFAILURE,
    550: Reason.REJECTED, 552: Reason.MAILBOXFULL, 553: Reason.REJECTED, 554: Reason.REJECTED,
}

_COMPILED: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = tuple(
    (Reason(key), re.compile("|".join(f"(?:{p})" for p in patterns)))
    for key, patterns in PHRASES
)

STATUS_RE: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_RE: Final = re.compile(r"(?<![\d.])([245][0-5]\d)(?=[ \-]|$)")
# "550-5.1.1 " / "550 5.1.1 " / "550-" at the start of each folded reply line.
_CONTINUATION: Final = re.compile(r"(?:(?<=\s)|^)[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?")
_SPACE: Final = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase, collapse whitespace and drop repeated SMTP reply-code prefixes."""
    collapsed = _SPACE.sub(" ", text).strip().lower()
    return _SPACE.sub(" ", _CONTINUATION.sub(" ", collapsed)).strip()


def match_text(text: str | None) -> Reason | None:
    """The first reason whose phrase table matches the text, or None."""
    if not text:
        return None
    clean = normalize(text)
    for reason, pattern in _COMPILED:
        if pattern.search(clean):
            return reason
    return None


def enhanced_codes(text: str | None) -> list[str]:
    """All RFC 3463 codes ("5.1.1") in a piece of text, in order of appearance."""
    return ["{}.{}.{}".format(*m.groups()) for m in STATUS_RE.finditer(text or "")]


def _status_reason(code: str, text_reason: Reason | None) -> tuple[Reason | None, bool]:
    """Reason for one enhanced code, and whether the code was specific enough to trust."""
    klass, subject, detail = code.split(".")
    if klass == "2":
        return Reason.DELIVERED, True
    key = f"{subject}.{detail}"
    base = _STATUS.get(key) or _STATUS_SUBJECT.get(subject)
    if detail == "0" or key in _REFINABLE_DETAIL or base is None:
        return (text_reason or base), text_reason is not None
    if text_reason is not None and text_reason in _TEXT_MAY_OVERRIDE.get(key, frozenset()):
        return text_reason, True
    return base, True


def classify(
    status: str | None,
    smtp_code: int | None,
    diagnostic: str | None,
    action: str | None = None,
) -> Reason:
    """Classify one recipient's failure; trusts status code, then SMTP reply, then text."""
    if action is not None and action.strip().lower() in _SUCCESS_ACTIONS:
        return Reason.DELIVERED
    text_reason = match_text(diagnostic)
    # The Status field first, then any codes quoted in the diagnostic ("Status: 5.0.0" with
    # "550 5.1.1 user unknown" is common from Exchange and older sendmail).
    codes = enhanced_codes(status) + enhanced_codes(diagnostic)
    fallback: Reason | None = None
    for code in codes:
        reason, trusted = _status_reason(code, text_reason)
        if trusted and reason is not None:
            return reason
        fallback = fallback or reason
    if smtp_code is None and diagnostic:
        found = SMTP_RE.search(diagnostic.strip()[:8])
        smtp_code = int(found.group(1)) if found else None
    if smtp_code is not None:
        if 200 <= smtp_code < 300:
            return Reason.DELIVERED
        if smtp_code in _SMTP_AUTHORITATIVE:
            return _SMTP_AUTHORITATIVE[smtp_code]
    if text_reason is not None:
        return text_reason
    if fallback is not None:
        return fallback
    if smtp_code is not None and smtp_code in _SMTP_FALLBACK:
        return _SMTP_FALLBACK[smtp_code]
    return Reason.UNDEFINED


def kind_for(reason: Reason, action: str | None) -> Kind:
    """Hard only for a failed delivery to a wrong address; delays are always soft."""
    act = (action or "").strip().lower()
    if reason is Reason.DELIVERED or act in _SUCCESS_ACTIONS:
        return Kind.NONE
    if act == "delayed":
        return Kind.SOFT
    return Kind.HARD if reason in HARD_REASONS else Kind.SOFT
