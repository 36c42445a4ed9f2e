"""OpenSMTPD: "the following list of recipients:" then one "rcpt: error" line each."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# OpenSMTPD's notice is a fixed template: "This is the MAILER-DAEMON, please DO NOT REPLY",
# "An error has occurred while attempting to deliver a message for the following list of
# recipients:", then "rcpt: 550 ..." on one line, then "Below is a copy of the original
# message:".  Its own errors are terse and carry no code: "Envelope expired" (queue
# lifetime), "Domain not found" / "No MX found for domain" (no such domain), "Destination
# seem to reject all mails" (the domain takes no mail at all), "Network error on destination
# MXs" / "Connection refused" (network), "Loop detected".  Delays say "Warning: message
# is still pending" / "temporary failure" in the Subject: and "delayed" in the text.
_FORMAT: Final = Format(
    start=re.compile(
        r"while attempting to deliver a message for the following list of "
        r"recipients|following list of recipients",
        re.I,
    ),
    end=re.compile(r"^\s*below is a copy of the original message", re.I | re.M),
    delayed=re.compile(r"has been delayed|still pending|temporary failure", re.I),
)
PHRASES: Final = compile_phrases(
    (
        ("expired", (r"envelope expired",)),
        ("notaccept", (r"no mx found for domain",)),
        ("hostunknown", (r"domain not found", r"invalid domain name")),
        ("notaccept", (r"destination seem(?:s)? to reject all mails",)),
        (
            "networkerror",
            (
                r"network error on destination mxs?",
                r"loop detected",
                r"could not retrieve source address",
            ),
        ),
    )
)
FAMILY: Final = Family(
    "opensmtpd",
    header_claim(body=r"following list of recipients:", received=r"\(OpenSMTPD\)"),
    format_detector(_FORMAT),
    PHRASES,
)
