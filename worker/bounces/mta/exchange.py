"""Microsoft Exchange (2003 to Online), Office 365: recipient lists, "Remote Server returned"."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import (
    Family,
    Format,
    Host,
    compile_phrases,
    format_detector,
    header_claim,
)

# Exchange 2007 and later, Office 365 and Outlook.com end their notice with "Diagnostic
# information for administrators:", "Generating server: host", the recipient, and the reply
# in "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; ...'" or "#550
# 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##".  Their own RESOLVER/ROUTING/QUEUE
# tokens are unambiguous: RESOLVER.ADR.RecipNotFound and RecipientNotFound (no such user),
# RESOLVER.ADR.ExRecipNotFound, RESOLVER.RST.NotAuthorized / RecipientRestriction
# (recipient refuses senders like us), STOREDRV.Deliver.Exception:QuotaExceeded (full),
# ROUTING.SMTPSEND.DNS.NonExistentDomain (no domain), QUEUE.Expired (expired).
# Exchange 2003 writes "did not reach the following recipient(s):" then "rcpt on date",
# the reason and an MSEXCH:IMS code; "The recipient name is not recognized" is unknown user.
_MODERN: Final = Format(
    start=re.compile(r"diagnostic information for administrators:?", re.I),
    end=re.compile(r"^\s*original message headers", re.I | re.M),
    delayed=re.compile(
        r"delivery (?:is|has been) delayed|hasn'?t been delivered yet|"
        r"couldn'?t be delivered yet|will continue trying",
        re.I,
    ),
)
_LISTED: Final = Format(
    start=re.compile(
        r"did not reach the following recipient\(s\):|delivery has failed to these"
        r" recipients or (?:groups|distribution lists):|following recipient\(s\) "
        r"(?:could not be reached|cannot be reached)|delivery to the following "
        r"recipients? failed|your message couldn'?t be delivered to",
        re.I,
    ),
    end=re.compile(
        r"^\s*(?:original message headers|diagnostic information for admin)", re.I | re.M
    ),
    delayed=re.compile(r"delivery (?:is|has been) delayed|hasn'?t been delivered yet", re.I),
)
PHRASES: Final = compile_phrases(
    (
        (
            "userunknown",
            (
                r"resolver\.adr\.(?:ex)?recip(?:ient)?notfound",
                r"recipient name is not "
                r"recognized",
                r"email address (?:wasn'?t|was not) found at the destination",
            ),
        ),
        (
            "filtered",
            (
                r"resolver\.rst\.(?:notauthorized|recipientrestriction|authrequired)",
                r"recipient'?s? mailbox is set up to reject|restricted who can send",
            ),
        ),
        ("mailboxfull", (r"quotaexceeded|mailbox is full|recipient'?s mailbox is full",)),
        (
            "hostunknown",
            (
                r"routing\.smtpsend\.dns\.nonexistentdomain|dns query failed.*"
                r"non-?existent domain",
            ),
        ),
        ("expired", (r"queue\.expired|message expired",)),
        ("mesgtoobig", (r"message (?:size|is too large)|mesgtoobig|messagetoobig",)),
    )
)
FAMILY: Final = Family(
    "exchange",
    header_claim(
        x_ms_exchange_message_is_ndr=r".",
        x_mailer=r"internet mail service|exchange",
        body=r"diagnostic information for administrators|did not reach the following"
        r" recipient|delivery has failed to these recipients",
        x_ms_exchange_organization_scl=r".",
    ),
    format_detector(_MODERN, _LISTED),
    PHRASES,
)
# Outlook.com / Exchange Online Protection as the receiving side.  Their codes come with
# documented wordings: 5.7.606-5.7.649 "Access denied, banned sending IP" (blocklisted by
# Microsoft: blocked), S3150/S3140 "not currently accepting mail from your ip" (blocked),
# 4.7.650-4.7.651 "temporarily rate limited due to IP reputation" (bad reputation), 5.7.509
# "sending domain does not pass DMARC verification" (authentication), 5.7.511 "banned
# sender" (our sender: rejected), 5.4.1 "Recipient address rejected: Access denied" (the
# recipient does not exist behind directory-based edge blocking), 5.7.708 "traffic not
# accepted from this IP" (blocked), 5.2.2 "mailbox full", 5.7.1 "Delivery not authorized".
# Outlook.com's consumer MX adds its own tokens: SC-001 to SC-004 (our IP's reputation or
# complaints: blocked), DY-001/DY-002 (a dynamic IP: blocked), OU-001/OU-002 ("rejected by
# Outlook.com for policy reasons").
HOST: Final = Host(
    "microsoft",
    re.compile(
        r"(?:^|\.)(?:outlook\.com|hotmail\.com|live\.com|msn\.com|office365\.com|"
        r"protection\.outlook\.com|microsoft\.com)$",
        re.I,
    ),
    compile_phrases(
        (
            ("badreputation", (r"rate limited due to ip reputation", r"\b4\.7\.65[01]\b")),
            (
                "blocked",
                (
                    r"banned sending ip",
                    r"\b5\.7\.6[0-4]\d\b",
                    r"\bs3150\b|\bs3140\b",
                    r"not currently accepting mail from your ip",
                    r"traffic not accepted "
                    r"from this ip",
                    r"\b5\.7\.708\b",
                    r"blocked using spamhaus",
                    r"\b(?:sc|dy)-00\d\b",
                ),
            ),
            ("policyviolation", (r"\bou-00\d\b",)),
            (
                "authfailure",
                (r"does not pass dmarc verification", r"\b5\.7\.509\b", r"\b5\.7\.515\b"),
            ),
            ("rejected", (r"access denied, banned sender", r"\b5\.7\.511\b")),
            (
                "userunknown",
                (
                    r"recipient address rejected: access denied",
                    r"recipientnotfound|"
                    r"recipnotfound",
                    r"requested action not taken: mailbox unavailable",
                ),
            ),
            ("filtered", (r"resolver\.rst\.",)),
        )
    ),
)
