"""Lotus Notes / HCL Domino: reasons listed before the address, or "was not delivered to:"."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# The Lotus SMTP MTA writes "------- Failure Reasons --------", then the reason (often in the
# server's locale, Japanese sites included), then the address, and "------- Returned Message
# --------".  Domino's router writes "was not delivered to:" / the address / "because:" /
# the reason, and repeats the verdict in the Subject: ("DELIVERY FAILURE: User x not listed
# in Domino Directory").  "not listed in (public Name & Address Book|Domino Directory)" is
# Notes' own unknown-user verdict; "Unable to deliver message" with nothing else, or a
# reason we cannot read, leaves the report on hold.
_NOTES: Final = Format(
    start=re.compile(r"-+\s*failure reasons\s*-+", re.I),
    end=re.compile(r"^\s*-+\s*returned message\s*-+", re.I | re.M),
    reason_first=True,
)
_DOMINO: Final = Format(
    start=re.compile(r"was not delivered to:", re.I),
    end=re.compile(
        r"^\s*-+\s*returned message|^\s*(?:original message|message header)", re.I | re.M
    ),
)
PHRASES: Final = compile_phrases(
    (
        (
            "userunknown",
            (
                r"not listed in (?:the )?(?:public name & address book|domino directory)",
                r"no such user",
                r"user not listed",
            ),
        ),
        ("mailboxfull", (r"mail file is full|maximum mail file size",)),
        ("networkerror", (r"unable to (?:find|reach) (?:the )?(?:path|route)",)),
    )
)
FAMILY: Final = Family(
    "notes",
    header_claim(
        body=r"-+\s*failure reasons\s*-+|^\s*was not delivered to:",
        received=r"lotus (?:smtp|domino)",
        subject=r"^delivery failure: ",
    ),
    format_detector(_NOTES, _DOMINO),
    PHRASES,
)
