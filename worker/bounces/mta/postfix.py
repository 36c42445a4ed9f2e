"""Postfix: plain-text notices from "the mail system at host", when no DSN part came along."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# Postfix writes one paragraph per recipient: "<rcpt>: host mx[ip] said: 550 5.1.1 ... (in
# reply to RCPT TO command)", folded with four-space indents, and names the SMTP command the
# reply answered, which decides between "user unknown" and a content filter.  Local failures
# read "<rcpt>: unknown user: "x"" or "... mail for example.org loops back to myself"; a pipe
# that failed is "Command died with status N" or "X-Postfix; ..." in the DSN: a mailer error.
_FORMAT: Final = Format(
    start=re.compile(
        r"this is the mail system at host|the mail system\s*$|"
        r"could not be delivered to one or more recipients",
        re.I | re.M,
    ),
    end=re.compile(r"^\s*-+\s*delivery report unavailable", re.I | re.M),
    delayed=re.compile(r"this is a warning only|delayed mail \(still being retried\)", re.I),
)
PHRASES: Final = compile_phrases(
    (
        (
            "mailererror",
            (
                r"command died with status",
                r"command output:",
                r"mail for \S+ loops back"
                r" to myself",
                r"x-unix;",
                r"x-postfix;.*(?:pipe|command)",
            ),
        ),
        ("userunknown", (r"unknown user: ", r"user unknown in (?:local|virtual|relay) recipient")),
        ("undefined", (r"delivery report unavailable",)),
    )
)
FAMILY: Final = Family(
    "postfix",
    header_claim(
        body=r"this is the mail system at host|^\s*the mail system\s*$", x_postfix_queue_id=r"."
    ),
    format_detector(_FORMAT),
    PHRASES,
)
