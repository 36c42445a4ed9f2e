"""Status-code tables: what an RFC 3463 enhanced code or a bare SMTP reply code says by itself."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.reasons_vocab import Reason

R = Reason
ANY: Final[frozenset[Reason]] = frozenset(Reason)
NONE: Final[frozenset[Reason]] = frozenset()

# Reasons the text may substitute for a precise x.1.1: other failures quoted with 5.1.1
# (vpopmail's "user over quota (#5.1.1)", "mailbox disabled", relay refusals ...).
_NOT_THE_ADDRESS: Final = frozenset(
    {
        R.MAILBOXFULL,
        R.SUSPEND,
        R.FILTERED,
        R.MAILERERROR,
        R.NORELAYING,
        R.BLOCKED,
        R.HASMOVED,
        R.NOTACCEPT,
        R.MESGTOOBIG,
        R.EXCEEDLIMIT,
        R.AUTHFAILURE,
        R.REQUIREPTR,
        R.SUPPRESSED,
    }
)

# RFC 3463 "subject.detail" → (reason, reasons the diagnostic text may put in its place).
# Precise codes keep their meaning (an empty override set) or give way only to the listed
# reasons; vague ones (x.0.0, x.7.1 "delivery not authorized", x.2.0, x.5.x ...) yield to
# any reason the text names.  The IANA registry is the source; departures are noted.
STATUS: Final[dict[str, tuple[Reason, frozenset[Reason]]]] = {
    "0.0": (R.UNDEFINED, ANY),
    "1.0": (R.REJECTED, ANY),  # "other address status": cox/spectrum use it for our sender
    "1.1": (R.USERUNKNOWN, _NOT_THE_ADDRESS),
    "1.2": (R.HOSTUNKNOWN, frozenset({R.NORELAYING, R.BLOCKED, R.NOTACCEPT})),
    "1.3": (R.USERUNKNOWN, ANY),  # address syntax; GoDaddy quotes it on blocklist refusals
    "1.4": (R.USERUNKNOWN, ANY),  # ambiguous mailbox
    "1.6": (R.HASMOVED, NONE),
    "1.7": (R.REJECTED, NONE),  # our sender address syntax
    "1.8": (R.REJECTED, NONE),  # our sender's domain
    "1.9": (R.SYSTEMERROR, ANY),
    # IANA: "recipient has null MX"; Office 365 uses it for every unknown recipient.
    "1.10": (R.USERUNKNOWN, frozenset({R.HOSTUNKNOWN, R.NOTACCEPT})),
    "2.0": (R.FILTERED, ANY),  # "other mailbox status": carriers' per-recipient filters
    "2.1": (R.SUSPEND, ANY),  # "mailbox disabled"; also unknown users and Gmail's rate
    "2.2": (R.MAILBOXFULL, NONE),
    "2.3": (R.EXCEEDLIMIT, frozenset({R.MESGTOOBIG})),  # per-mailbox size limit
    "2.4": (R.SYSTEMERROR, ANY),  # mailing list expansion problem at the receiver
    "3.0": (R.SYSTEMERROR, ANY),
    "3.1": (R.SYSTEMFULL, ANY),  # their mail system is full, not the customer's mailbox
    "3.2": (R.NOTACCEPT, ANY),  # also "452 4.3.2 connection rate limit exceeded"
    "3.3": (R.SYSTEMERROR, ANY),
    "3.4": (R.MESGTOOBIG, NONE),
    "3.5": (R.SYSTEMERROR, ANY),
    "4.0": (R.NETWORKERROR, ANY),
    "4.1": (R.EXPIRED, ANY),  # "no answer from host", final after the retries ran out
    "4.2": (R.NETWORKERROR, ANY),
    "4.3": (R.SYSTEMERROR, ANY),  # directory server failure
    "4.4": (R.HOSTUNKNOWN, ANY),
    "4.5": (R.TOOMANYCONN, ANY),  # mail system congestion
    "4.6": (R.NETWORKERROR, NONE),  # routing loop
    "4.7": (R.EXPIRED, frozenset({R.BLOCKED})),  # "delivery time expired"
    "5.0": (R.SYNTAXERROR, ANY),
    "5.3": (R.EXCEEDLIMIT, ANY),  # too many recipients
    "6.0": (R.CONTENTERROR, ANY),
    "7.0": (R.SECURITYERROR, ANY),
    "7.1": (R.REJECTED, ANY),  # "delivery not authorized": servers use it for everything
    "7.2": (R.POLICYVIOLATION, ANY),
    "7.7": (R.SECURITYERROR, ANY),
    "7.9": (R.SECURITYERROR, ANY),  # Yahoo: "5.7.9 Message not accepted for policy reasons"
    "7.13": (R.SUSPEND, NONE),  # user account disabled
    "7.16": (R.MESGTOOBIG, NONE),
    "7.17": (R.HASMOVED, NONE),  # mailbox owner has changed (RFC 7293)
    "7.18": (R.HASMOVED, NONE),  # domain owner has changed (RFC 7293)
    "7.20": (R.AUTHFAILURE, NONE),  # 5.7.20..5.7.24: DKIM/SPF results (RFC 7372)
    "7.21": (R.AUTHFAILURE, NONE),
    "7.22": (R.AUTHFAILURE, NONE),
    "7.23": (R.AUTHFAILURE, NONE),
    "7.24": (R.AUTHFAILURE, NONE),
    "7.25": (R.REQUIREPTR, NONE),  # reverse DNS of our IP failed validation
    "7.26": (R.AUTHFAILURE, NONE),  # Gmail/Yahoo: multiple authentication checks failed
    "7.27": (R.REJECTED, NONE),  # our sender domain has a null MX
    "7.28": (R.TOOMANYCONN, ANY),  # mail flood: Gmail's "unusual rate of unsolicited mail"
    "7.29": (R.AUTHFAILURE, NONE),  # ARC validation failure
    "7.30": (R.SECURITYERROR, NONE),  # REQUIRETLS support required
}
# Whole subjects whose details are not listed above.
STATUS_SUBJECT: Final[dict[str, tuple[Reason, frozenset[Reason]]]] = {
    "1": (R.USERUNKNOWN, ANY),
    "2": (R.FILTERED, ANY),
    "3": (R.SYSTEMERROR, ANY),
    "4": (R.NETWORKERROR, ANY),
    "5": (R.SYNTAXERROR, ANY),
    "6": (R.CONTENTERROR, ANY),
    "7": (R.SECURITYERROR, ANY),
}
# Basic SMTP reply codes (RFC 5321, 7504), used when neither code nor text decide.
SMTP_AUTHORITATIVE: Final[dict[int, Reason]] = {
    521: R.NOTACCEPT,
    551: R.HASMOVED,
    556: R.NOTACCEPT,
}
SMTP_FALLBACK: Final[dict[int, Reason]] = {
    421: R.SYSTEMERROR,
    450: R.SYSTEMERROR,
    451: R.SYSTEMERROR,
    452: R.SYSTEMERROR,
    500: R.SYNTAXERROR,
    501: R.SYNTAXERROR,
    502: R.SYNTAXERROR,
    503: R.SYNTAXERROR,
    504: R.SYNTAXERROR,
    530: R.SECURITYERROR,
    535: R.SECURITYERROR,
    552: R.MAILBOXFULL,
}
# Where no code or table decides: (SMTP command answered, reason).  A refusal of the
# greeting or HELO is about our host, not the customer.
BY_COMMAND: Final[dict[str, Reason]] = {"CONN": R.BLOCKED}

STATUS_RE: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_RE: Final = re.compile(r"(?<![\d.])([245][0-5]\d)(?=[ \-]|$)")


def enhanced_codes(text: str | None) -> list[str]:
    """All RFC 3463 codes ("5.1.1") in a piece of text, in order of appearance."""
    return ["{}.{}.{}".format(*m.groups()) for m in STATUS_RE.finditer(text or "")]


def status_reason(code: str) -> tuple[Reason, frozenset[Reason]]:
    """(reason, reasons the text may put in its place) for one enhanced code."""
    _klass, subject, detail = code.split(".")
    return STATUS.get(f"{subject}.{detail}") or STATUS_SUBJECT.get(subject) or (R.UNDEFINED, ANY)


def is_precise(code: str) -> bool:
    """A code that names a condition: not a bare class ("5.0.0") nor a private detail."""
    return not code.endswith(".0.0") and int(code.split(".")[2]) < 900
