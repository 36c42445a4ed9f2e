"""Bounce reason taxonomy and classification from status code, SMTP reply and diagnostic text."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from worker.bounces import mta
from worker.bounces.mta.base import verdict
from worker.bounces.phrases import PHRASES, WEAK_PHRASES


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
    #: Our sending IP has no PTR record, or one that does not match its forward DNS.
    REQUIREPTR = "requireptr"
    #: A security requirement was not met: TLS, encryption, credentials (x.7.x otherwise).
    SECURITYERROR = "securityerror"
    #: A local delivery program (pipe, procmail, a mailbox command) failed at the receiver.
    MAILERERROR = "mailererror"
    #: The receiving mail system itself is out of storage (x.3.1), not the mailbox.
    SYSTEMFULL = "systemfull"
    #: We sent too fast for the receiver: "please try again slower".
    SPEEDING = "speeding"
    #: The receiver limits our volume or sessions over time ("rate limited", "throttled").
    RATELIMITED = "ratelimited"
    #: The sending service refused to send, the address being on its suppression list.
    SUPPRESSED = "suppressed"
    #: A complaint (ARF feedback report): the recipient marked our mail as spam.
    FEEDBACK = "feedback"
    #: Our message violates the message format standard (RFC 5322): duplicate headers etc.
    NOTCOMPLIANTRFC = "notcompliantrfc"
    #: An auto-reply (vacation, out of office): never a bounce.
    VACATION = "vacation"
    #: The report explains the failure in words no table knows: held for a person to read.
    ONHOLD = "onhold"
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
        Reason.REQUIREPTR,
        Reason.SECURITYERROR,
        Reason.NOTCOMPLIANTRFC,
        Reason.SPEEDING,
        Reason.RATELIMITED,
    }
)
#: Soft failures that live in the customer's mailbox and tend to repeat until they act.
MAILBOX_SOFT: Final = frozenset({Reason.MAILBOXFULL, Reason.SUSPEND, Reason.SUPPRESSED})

_SUCCESS_ACTIONS: Final = frozenset({"delivered", "relayed", "expanded"})

R = Reason
_ANY: Final[frozenset[Reason]] = frozenset(Reason)
_NONE: Final[frozenset[Reason]] = frozenset()
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
_STATUS: Final[dict[str, tuple[Reason, frozenset[Reason]]]] = {
    "0.0": (R.UNDEFINED, _ANY),
    "1.0": (R.REJECTED, _ANY),  # "other address status": cox/spectrum use it for our sender
    "1.1": (R.USERUNKNOWN, _NOT_THE_ADDRESS),
    "1.2": (R.HOSTUNKNOWN, frozenset({R.NORELAYING, R.BLOCKED, R.NOTACCEPT})),
    "1.3": (R.USERUNKNOWN, _ANY),  # address syntax; GoDaddy quotes it on blocklist refusals
    "1.4": (R.USERUNKNOWN, _ANY),  # ambiguous mailbox
    "1.6": (R.HASMOVED, _NONE),
    "1.7": (R.REJECTED, _NONE),  # our sender address syntax
    "1.8": (R.REJECTED, _NONE),  # our sender's domain
    "1.9": (R.SYSTEMERROR, _ANY),
    # IANA: "recipient has null MX"; Office 365 uses it for every unknown recipient.
    "1.10": (R.USERUNKNOWN, frozenset({R.HOSTUNKNOWN, R.NOTACCEPT})),
    "2.0": (R.FILTERED, _ANY),  # "other mailbox status": carriers' per-recipient filters
    "2.1": (R.SUSPEND, _ANY),  # "mailbox disabled"; also unknown users and Gmail's rate
    "2.2": (R.MAILBOXFULL, _NONE),
    "2.3": (R.EXCEEDLIMIT, frozenset({R.MESGTOOBIG})),  # per-mailbox size limit
    "2.4": (R.SYSTEMERROR, _ANY),  # mailing list expansion problem at the receiver
    "3.0": (R.SYSTEMERROR, _ANY),
    "3.1": (R.SYSTEMFULL, _ANY),  # their mail system is full, not the customer's mailbox
    "3.2": (R.NOTACCEPT, _ANY),  # also "452 4.3.2 connection rate limit exceeded"
    "3.3": (R.SYSTEMERROR, _ANY),
    "3.4": (R.MESGTOOBIG, _NONE),
    "3.5": (R.SYSTEMERROR, _ANY),
    "4.0": (R.NETWORKERROR, _ANY),
    "4.1": (R.EXPIRED, _ANY),  # "no answer from host", final after the retries ran out
    "4.2": (R.NETWORKERROR, _ANY),
    "4.3": (R.SYSTEMERROR, _ANY),  # directory server failure
    "4.4": (R.HOSTUNKNOWN, _ANY),
    "4.5": (R.TOOMANYCONN, _ANY),  # mail system congestion
    "4.6": (R.NETWORKERROR, _NONE),  # routing loop
    "4.7": (R.EXPIRED, frozenset({R.BLOCKED})),  # "delivery time expired"
    "5.0": (R.SYNTAXERROR, _ANY),
    "5.3": (R.EXCEEDLIMIT, _ANY),  # too many recipients
    "6.0": (R.CONTENTERROR, _ANY),
    "7.0": (R.SECURITYERROR, _ANY),
    "7.1": (R.REJECTED, _ANY),  # "delivery not authorized": servers use it for everything
    "7.2": (R.POLICYVIOLATION, _ANY),
    "7.7": (R.SECURITYERROR, _ANY),
    "7.9": (R.SECURITYERROR, _ANY),  # Yahoo: "5.7.9 Message not accepted for policy reasons"
    "7.13": (R.SUSPEND, _NONE),  # user account disabled
    "7.16": (R.MESGTOOBIG, _NONE),
    "7.17": (R.HASMOVED, _NONE),  # mailbox owner has changed (RFC 7293)
    "7.18": (R.HASMOVED, _NONE),  # domain owner has changed (RFC 7293)
    "7.20": (R.AUTHFAILURE, _NONE),  # 5.7.20..5.7.24: DKIM/SPF results (RFC 7372)
    "7.21": (R.AUTHFAILURE, _NONE),
    "7.22": (R.AUTHFAILURE, _NONE),
    "7.23": (R.AUTHFAILURE, _NONE),
    "7.24": (R.AUTHFAILURE, _NONE),
    "7.25": (R.REQUIREPTR, _NONE),  # reverse DNS of our IP failed validation
    "7.26": (R.AUTHFAILURE, _NONE),  # Gmail/Yahoo: multiple authentication checks failed
    "7.27": (R.REJECTED, _NONE),  # our sender domain has a null MX
    "7.28": (R.TOOMANYCONN, _ANY),  # mail flood: Gmail's "unusual rate of unsolicited mail"
    "7.29": (R.AUTHFAILURE, _NONE),  # ARC validation failure
    "7.30": (R.SECURITYERROR, _NONE),  # REQUIRETLS support required
}
# Whole subjects whose details are not listed above.
_STATUS_SUBJECT: Final[dict[str, tuple[Reason, frozenset[Reason]]]] = {
    "1": (R.USERUNKNOWN, _ANY),
    "2": (R.FILTERED, _ANY),
    "3": (R.SYSTEMERROR, _ANY),
    "4": (R.NETWORKERROR, _ANY),
    "5": (R.SYNTAXERROR, _ANY),
    "6": (R.CONTENTERROR, _ANY),
    "7": (R.SECURITYERROR, _ANY),
}
# Basic SMTP reply codes (RFC 5321, 7504), used when neither code nor text decide.
_SMTP_AUTHORITATIVE: Final[dict[int, Reason]] = {
    521: R.NOTACCEPT,
    551: R.HASMOVED,
    556: R.NOTACCEPT,
}
_SMTP_FALLBACK: Final[dict[int, Reason]] = {
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
_BY_COMMAND: Final[dict[str, Reason]] = {"CONN": R.BLOCKED}

_COMPILED: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = tuple(
    (Reason(key), re.compile("|".join(f"(?:{p})" for p in patterns))) for key, patterns in PHRASES
)
_WEAK: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = tuple(
    (Reason(key), re.compile("|".join(f"(?:{p})" for p in patterns)))
    for key, patterns in WEAK_PHRASES
)

STATUS_RE: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_RE: Final = re.compile(r"(?<![\d.])([245][0-5]\d)(?=[ \-]|$)")
# "550-5.1.1 " / "550 5.1.1 " / "550-" at the start of each folded reply line.
_CONTINUATION: Final = re.compile(r"(?:(?<=\s)|^)[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?")
_SPACE: Final = re.compile(r"\s+")
_HOST_IN_TEXT: Final = re.compile(
    r"\b(?:host|from|by|at)\s+\[?([a-z0-9][\w.-]*\.[a-z]{2,})", re.IGNORECASE
)


def normalize(text: str) -> str:
    """Lowercase, collapse whitespace and drop repeated SMTP reply-code prefixes."""
    collapsed = _SPACE.sub(" ", text).strip().lower()
    return _SPACE.sub(" ", _CONTINUATION.sub(" ", collapsed)).strip()


def match_text(text: str | None, *, weak: bool = True) -> Reason | None:
    """The first reason whose phrase table matches the text, or None; weak=False leaves
    out the words every refusal uses ("rejected", "access denied")."""
    if not text:
        return None
    clean = normalize(text)
    for reason, pattern in _COMPILED + (_WEAK if weak else ()):
        if pattern.search(clean):
            return reason
    return None


def enhanced_codes(text: str | None) -> list[str]:
    """All RFC 3463 codes ("5.1.1") in a piece of text, in order of appearance."""
    return ["{}.{}.{}".format(*m.groups()) for m in STATUS_RE.finditer(text or "")]


def host_reason(
    host: str | None, text: str | None, status: str | None = None, domain: str | None = None
) -> Reason | None:
    """The receiving provider's own verdict: its documented reply wording, when the host that
    answered (or the one the text names, or else the recipient's domain) is a provider with
    a table."""
    if not text:
        return None
    # "mx.example.net (TCP|192.0.2.1|25) (banner)": the name is the first word.
    names = [
        n.split()[0].strip(" .[]").lower()
        for n in (host, *_HOST_IN_TEXT.findall(text[:600]))
        if n and n.split()
    ]
    if not names and domain:
        names = [domain.lower()]
    for provider in mta.HOSTS:
        if any(provider.hosts.search(n) for n in names) or (
            provider.name == "google" and "gsmtp" in text
        ):
            # The status of record leads the text: some providers' tables key on it.
            found = verdict(provider.replies, f"{status or ''} {text}")
            if found is not None:
                return Reason(found)
    return None


def _status_reason(code: str) -> tuple[Reason, frozenset[Reason]]:
    _klass, subject, detail = code.split(".")
    return _STATUS.get(f"{subject}.{detail}") or _STATUS_SUBJECT.get(subject) or (R.UNDEFINED, _ANY)


def _is_precise(code: str) -> bool:
    return not code.endswith(".0.0") and int(code.split(".")[2]) < 900


def classify(
    status: str | None,
    smtp_code: int | None,
    diagnostic: str | None,
    action: str | None = None,
    *,
    command: str | None = None,
    host: str | None = None,
    told: str | None = None,
    diagnostic_type: str | None = None,
    domain: str | None = None,
) -> Reason:
    """Classify one recipient's failure from the best evidence there is: the receiving
    provider's own wording, the mail system's own verdict (told), the enhanced status code,
    then the phrase tables, then the SMTP reply code and what the report leaves implied."""
    if action is not None and action.strip().lower() in _SUCCESS_ACTIONS:
        return R.DELIVERED
    codes = [c for c in enhanced_codes(status) + enhanced_codes(diagnostic) if c[0] in "245"]
    if codes and codes[0][0] == "2":
        return R.DELIVERED
    text = match_text(diagnostic)
    found = host_reason(host, diagnostic, codes[0] if codes else None, domain)
    if found is not None:
        # Carriers that answer "unknown user" to filtered senders still mean it at RCPT.
        return R.USERUNKNOWN if text is R.USERUNKNOWN and command == "RCPT" else found
    if told is not None:
        return Reason(told)
    if (diagnostic_type or "").lower() in ("x-unix", "x-postfix") and text in (None, R.ONHOLD):
        return R.MAILERERROR
    if (
        text is not None
        and match_text(diagnostic, weak=False) is None
        and any(_is_precise(c) for c in codes)
    ):
        text = None  # "rejected" alone says less than a precise status code
    reason = _decide(codes, text, command, smtp_code, action, diagnostic)
    # A delay report that ends on a network or system condition is the retry clock running
    # out, as far as the sender can tell.
    if (action or "").strip().lower() == "delayed" and reason in _DELAY_IS_EXPIRY:
        return R.EXPIRED
    return reason


_DELAY_IS_EXPIRY: Final = frozenset(
    {R.NETWORKERROR, R.SYSTEMERROR, R.UNDEFINED, R.ONHOLD, R.HOSTUNKNOWN}
)


def _decide(
    codes: list[str],
    text: Reason | None,
    command: str | None,
    smtp_code: int | None,
    action: str | None,
    diagnostic: str | None,
) -> Reason:
    precise = next((c for c in codes if _is_precise(c)), None)
    if precise is not None:
        base, overrides = _status_reason(precise)
        if text is not None and text in overrides:
            # An addressing or mailbox code (x.1.x, x.2.1) vouches for an unknown user.
            vouched = precise.split(".")[1] == "1" or precise[2:] == "2.1"
            return _by_stage(text, command, from_code=vouched, diagnostic=diagnostic)
        if overrides is not _ANY or text is None:
            return _by_stage(base, command, from_code=True)
    if text is not None:
        return _by_stage(text, command, from_code=False, diagnostic=diagnostic)
    return _fallback(codes, smtp_code, command, action, diagnostic)


# Wordings that can only come from a directory lookup of the recipient: they name a
# missing address whatever SMTP stage they answered (Exchange's RESOLVER tokens, Gmail's
# and Yahoo's sentences, Hotmail's "mailbox unavailable (n:n:n)", qmail/sendmail "here").
_DIRECTORY_VERDICT: Final = re.compile(
    r"resolver\.adr\.|recip(?:ient)?notfound|account that you tried to reach does not exist|"
    r"doesn'?t have an? \S+ account|"
    # Hotmail's RCPT answer carries its lookup triple; the bare RFC 5321 text does not.
    r"requested action not taken: mailbox unavailable \(-?\d+:\d+:-?\d+\)|"
    r"recipient address rejected: (?:access denied|user unknown in)|"
    r"not listed in (?:the )?(?:domino directory|public name)|"
    r"user unknown in (?:local|virtual) ",
    re.IGNORECASE,
)


_VAGUE_AT_CONNECT: Final = frozenset(
    {R.REJECTED, R.FILTERED, R.USERUNKNOWN, R.HOSTUNKNOWN, R.ONHOLD, R.UNDEFINED}
)


def _by_stage(
    reason: Reason, command: str | None, *, from_code: bool, diagnostic: str | None = None
) -> Reason:
    """An "unknown user" that did not answer RCPT (it answered DATA, or the report does not
    say) is a content or sender filter speaking, unless a 5.1.x code or a directory-lookup
    wording vouches for it."""
    if command == "MAIL" and reason in (R.USERUNKNOWN, R.HOSTUNKNOWN, R.HASMOVED):
        return R.REJECTED  # a refusal of MAIL FROM is about our sender, never the recipient
    if command == "CONN" and reason in _VAGUE_AT_CONNECT:
        return R.BLOCKED  # refused before any address was given: our host or IP
    if reason is R.USERUNKNOWN and diagnostic and _DIRECTORY_VERDICT.search(diagnostic):
        return reason
    if reason is R.USERUNKNOWN and not from_code and command != "RCPT":
        return R.FILTERED
    return reason


def _fallback(
    codes: list[str],
    smtp_code: int | None,
    command: str | None,
    action: str | None,
    diagnostic: str | None,
) -> Reason:
    if smtp_code is None and diagnostic:
        found = SMTP_RE.search(diagnostic.strip()[:8])
        smtp_code = int(found.group(1)) if found else None
    if smtp_code is not None:
        if 200 <= smtp_code < 300:
            return R.DELIVERED
        if smtp_code in _SMTP_AUTHORITATIVE:
            return _SMTP_AUTHORITATIVE[smtp_code]
    if command in _BY_COMMAND:
        return _BY_COMMAND[command]
    for code in codes:
        base, _overrides = _status_reason(code)
        if base is not R.UNDEFINED and not code.endswith(".0.0"):
            return base
    if (action or "").strip().lower() == "delayed":
        return R.EXPIRED
    if smtp_code is not None and smtp_code in _SMTP_FALLBACK:
        return _SMTP_FALLBACK[smtp_code]
    return R.ONHOLD if diagnostic and diagnostic.strip() else R.UNDEFINED


def kind_for(reason: Reason, action: str | None) -> Kind:
    """Hard only for a failed delivery to a wrong address; delays are always soft."""
    act = (action or "").strip().lower()
    if reason in (R.DELIVERED, R.FEEDBACK, R.VACATION) or act in _SUCCESS_ACTIONS:
        return Kind.NONE
    if act in ("delayed", "complaint"):
        return Kind.SOFT if act == "delayed" else Kind.NONE
    return Kind.HARD if reason in HARD_REASONS else Kind.SOFT
