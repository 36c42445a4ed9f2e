"""The bounce vocabulary: Reason and Kind, the reason sets policy reads, and a report's kind."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "HARD_REASONS",
    "MAILBOX_SOFT",
    "SENDER_SIDE",
    "SUCCESS_ACTIONS",
    "Kind",
    "Reason",
    "kind_for",
]


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

#: Actions that say the message got through: never a failure, whatever the codes say.
SUCCESS_ACTIONS: Final = frozenset({"delivered", "relayed", "expanded"})


def kind_for(reason: Reason, action: str | None) -> Kind:
    """Hard only for a failed delivery to a wrong address; delays are always soft."""
    act = (action or "").strip().lower()
    if reason in (Reason.DELIVERED, Reason.FEEDBACK, Reason.VACATION) or act in SUCCESS_ACTIONS:
        return Kind.NONE
    if act in ("delayed", "complaint"):
        return Kind.SOFT if act == "delayed" else Kind.NONE
    return Kind.HARD if reason in HARD_REASONS else Kind.SOFT
