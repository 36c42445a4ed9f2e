"""Unnamed MTAs seen in the wild, known by their wording: "X1" to "X6" in bounce collections."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, format_detector, header_claim

# X1: "---The following addresses had delivery errors---" then "rcpt [reason]".
# X6: "The following recipients returned permanent errors: rcpt. Reason: ... refused to
# accept your message (DATA), with the following error message: ..." on one line.
# Others write "Unable to deliver message to the following address(es)." then "<rcpt>:".
_X1: Final = Format(
    start=re.compile(r"-+\s*the following addresses had delivery errors\s*-+", re.I)
)
_X6: Final = Format(
    recipient=re.compile(
        r"^\s*the following recipients returned (?:permanent|temporary) errors:"
        r"\s*<?(?P<addr>[^\s<>]+@[^\s<>]+?)>?\.?(?P<why>\s.*)?$",
        re.I,
    ),
)
_LIST: Final = Format(
    start=re.compile(
        r"unable to deliver (?:the )?message to the following (?:address\(es\)|"
        r"recipients?)|the following recipients? (?:could not be|was not) "
        r"(?:delivered|reached)|message could not be delivered to the following",
        re.I,
    ),
)
FAMILY: Final = Family(
    "xseries",
    header_claim(
        body=r"following addresses had delivery errors|following recipients returned"
        r" (?:permanent|temporary) errors|unable to deliver (?:the )?message to the "
        r"following|following recipients? (?:could not be|was not) (?:delivered|"
        r"reached)|message could not be delivered to the following"
    ),
    format_detector(_X6, _X1, _LIST),
)
