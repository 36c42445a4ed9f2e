"""Zoho Mail as the sending side: one "rcpt verdict, ERROR_CODE :reply" line per recipient."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# Zoho's notice (X-ZohoMail on the bounce) borrows Exim's opening sentence, then writes
# "rcpt Invalid Address, ERROR_CODE :550, ERROR_CODE :<remote reply>" or "rcpt Error,
# ERROR_CODE :421, ERROR_CODE :, Host not reachable." and appends the returned headers at
# once, from "Received:from ... by mx.zohomail.com".  Its own "Host not reachable" is the
# retry period running out on a host that never answered (expired); "Invalid Address" is
# only its label for any 5xx, the remote reply says what happened.
_FORMAT: Final = Format(
    start=re.compile(r"could not be delivered to one or more of its recipients", re.I),
    end=re.compile(r"^\s*received:\s*from \S+ by \S*zohomail\.com", re.I | re.M),
    recipient=re.compile(
        r"^\s*<?(?P<addr>[^\s<>@]+@[^\s<>@]+?)>?\s+(?P<why>[^@]*\berror_code\b.*)$", re.I
    ),
)
FAMILY: Final = Family(
    "zoho",
    header_claim(x_zohomail=r".", from_=r"mailer-daemon@mail\.zoho\."),
    format_detector(_FORMAT),
    compile_phrases((("expired", (r"\bhost not reachable\b",)),)),
)
