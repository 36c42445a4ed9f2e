"""Japanese carriers and ISPs: KDDI au / EZweb, NTT docomo, Biglobe, and their MX replies."""

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

# au (KDDI) sends "Your mail sent on: date / Could not be delivered to: <rcpt> / As their
# mailbox is full." with a Japanese paragraph above; EZweb (the older au domain) writes "Each
# of the following recipients was rejected by a remote mail server." or "The user(s) account
# is disabled." next to "<rcpt>" lines, in either order.  EZweb's rejections are nearly
# always the recipient's own sender filter (domain or address blocking set on the handset).
# Biglobe mimics sendmail: "----- The following addresses had delivery problems -----",
# then "----- Non-delivered information -----" with its verdict ("The number of messages in
# recipient's mailbox exceeded the local limit." = full).  Both carriers' MX hosts answer
# "550 Unknown user" to a sender the recipient has blocked: from them that wording is a
# filter, not a missing mailbox (docomo: filtered with 5.2.0, otherwise a plain refusal).
_AU: Final = Format(
    recipient=re.compile(
        r"^\s*could not be delivered to:?\s*<?(?P<addr>[^\s<>]+@[^\s<>]+?)>?"
        r"(?P<why>\s.*)?$",
        re.I,
    ),
)
_EZWEB: Final = Format(
    recipient=re.compile(r"^\s*<(?P<addr>[^\s<>]+@[^\s<>]+)>(?P<why>.*)$"),
    reason_first=True,
)
_BIGLOBE: Final = Format(
    start=re.compile(r"-+\s*the following addresses had delivery problems\s*-+", re.I),
    end=re.compile(r"^\s*-+\s*(?:original message|unsent message)", re.I | re.M),
)
PHRASES: Final = compile_phrases(
    (
        (
            "mailboxfull",
            (
                r"as their mailbox is full",
                r"number of messages in recipient'?s mailbox"
                r" exceeded",
                r"mailbox (?:is )?full",
                r"メールボックスの容量",
            ),
        ),
        ("suspend", (r"the user\(s\) account is disabled", r"account is disabled")),
        (
            "expired",
            (
                r"the following recipients did not receive this message",
                r"was not sent "
                r"because of time ?out|timed? ?out",
            ),
        ),
        (
            "filtered",
            (r"was rejected by a remote mail server", r"rejected by the domain filter", r"拒否"),
        ),
        ("userunknown", (r"the user\(s\) do not exist|no such user|user unknown",)),
    )
)
FAMILY: Final = Family(
    "japan",
    header_claim(
        from_=r"@(?:ezweb\.ne\.jp|.*\.dion\.ne\.jp|au\.com|biglobe\.ne\.jp|docomo\.ne"
        r"\.jp)",
        received=r"\(EZweb Mail\)|\bby \S+\.(?:ezweb|biglobe)\.ne\.jp",
    ),
    format_detector(_AU, _BIGLOBE, _EZWEB),
    PHRASES,
)
KDDI: Final = Host(
    "kddi",
    re.compile(r"(?:^|\.)(?:ezweb\.ne\.jp|au\.com|kddi\.com|dion\.ne\.jp)$", re.I),
    # au answers "550 : User unknown" (no address) to a sender the handset blocks, and
    # "550 <rcpt>: User unknown" for a mailbox that does not exist; 5.2.0 is a refusal too.
    compile_phrases(
        (
            ("filtered", (r"^5\.2\.0 .*user unknown", r"\b550 : user unknown")),
            ("userunknown", (r">: user unknown",)),
        )
    ),
)
DOCOMO: Final = Host(
    "nttdocomo",
    re.compile(r"(?:^|\.)docomo\.ne\.jp$", re.I),
    compile_phrases(
        (
            ("filtered", (r"\b5\.2\.0\b.*unknown user|unknown user.*\b5\.2\.0\b",)),
            ("rejected", (r"unknown user",)),
        )
    ),
)
