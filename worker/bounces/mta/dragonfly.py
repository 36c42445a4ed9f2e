"""DragonFly Mail Agent (dma): one recipient per notice, the remote reply quoted verbatim."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# dma opens "This is the DragonFly Mail Agent vX at host." then "There was an error
# delivering your mail to <rcpt>." and then either the remote host's words after "host
# [ip] did not like our RCPT TO:" / "did not like our final DATA:" / "did not like our MAIL
# FROM:", or its own: "unable to deliver: ... timed out" and "giving up" (expired),
# "permanent failure: no such domain" / "DNS lookup failed" (no domain).  The original
# headers follow "Message headers follow."  It sends no DSN part and no status code of its own.
_FORMAT: Final = Format(
    start=re.compile(r"this is the dragonfly mail agent", re.I),
    end=re.compile(r"^\s*message headers follow", re.I | re.M),
    recipient=re.compile(
        r"^\s*there was an error delivering your mail to <(?P<addr>[^<>\s]+)>"
        r"(?P<why>.*)$",
        re.I,
    ),
)
PHRASES: Final = compile_phrases(
    (
        ("expired", (r"giving up", r"timed out|time-?out")),
        ("hostunknown", (r"no such domain", r"dns lookup failed", r"can'?t find mx")),
    )
)
FAMILY: Final = Family(
    "dragonfly",
    header_claim(body=r"this is the dragonfly mail agent", received=r"\(DragonFly Mail Agent"),
    format_detector(_FORMAT),
    PHRASES,
)
