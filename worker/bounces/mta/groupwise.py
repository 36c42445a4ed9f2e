"""Novell/Micro Focus GroupWise: "undeliverable to the following:" then "rcpt (why)" lines."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# GroupWise writes one TAB-indented "rcpt (why)" line per recipient.  flufl.bounce's own
# GroupWise detector takes everything up to the first space as the address, TAB included,
# rejects it, and finds nothing.  "(user not found)" is GroupWise's own directory lookup.
_FORMAT: Final = Format(
    start=re.compile(r"(?:was|were) undeliverable to the following", re.I),
    end=re.compile(r"^\s*possibly truncated original message follows", re.I | re.M),
)
FAMILY: Final = Family(
    "groupwise",
    header_claim(x_mailer=r"groupwise", body=r"(?:was|were) undeliverable to the following"),
    format_detector(_FORMAT),
    compile_phrases((("userunknown", (r"\(user not found\)|^user not found",)),)),
)
