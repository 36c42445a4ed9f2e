"""Exim (and the providers that run it: mail.ru, Yandex, MXLogic, GMX): failed-address lists."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# Exim lists each failed address on its own line indented two spaces, the explanation below
# indented four: "SMTP error from remote mail server after RCPT TO:<x>:" then "host mx [ip]:
# 550 ...".  It adds X-Failed-Recipients, and marks delay warnings "has not yet been
# delivered".  Local failures have their own words: "Unrouteable address" (no such domain),
# "all relevant MX records point to non-existent hosts", "retry timeout exceeded" and
# "retry time not reached for any host after a long failure period" (expired), "Mailbox is
# full" / "mailbox quota exceeded", and "pipe to |/path" or "transport ... returned" failures
# of a local command (mailer error).  Some sites rewrite the intro ("could not be delivered
# to all of its recipients", "delivery to the following recipient(s) failed").
_FORMAT: Final = Format(
    start=re.compile(
        r"following address(?:\(es\)|es)? failed:?|could not be delivered to one or more of its"
        r"|could not be delivered to (?:all of )?its recipients|following address(?:\(es\))?"
        r" (?:has|have) not yet been delivered|following recipients? failed permanently|"
        r"delivery to the following recipients? (?:failed|was aborted)",
        re.I,
    ),
    end=re.compile(
        r"^\s*-+\s*this is a copy of (?:the|your) message|^\s*-+\s*the header of the"
        r" original message is following",
        re.I | re.M,
    ),
    delayed=re.compile(
        r"has not yet been delivered|is a temporary error|will continue to be"
        r" retried|still in the queue",
        re.I,
    ),
)
PHRASES: Final = compile_phrases(
    (
        (
            "hostunknown",
            (
                r"unrouteable address",
                r"all relevant mx records point to non-existent",
            ),
        ),
        # A full mailbox until the retry timeout ran out is a full mailbox.
        ("mailboxfull", (r"mailbox is full", r"mailbox quota exceeded", r"quota exceeded")),
        (
            "expired",
            (
                r"retry timeout exceeded",
                r"retry time not reached for any host after a long",
                r"has been frozen",
                r"was frozen on arrival",
                r"no immediate delivery",
            ),
        ),
        (
            "mailererror",
            (
                r"pipe to \|",
                r"child process of \S+ transport returned",
                r"could not be delivered to .* because .* transport failed",
            ),
        ),
        ("systemerror", (r"too many \"received\" headers", r"local delivery failed")),
        ("contenterror", (r"message has lines too long for transport",)),
    )
)
FAMILY: Final = Family(
    "exim",
    header_claim(
        x_failed_recipients=r"@",
        received=r"\bwith e?smtpa? \(exim|\(exim \d",
        message_id=r"^\s*<E1[0-9A-Za-z]{5}-",
        body=r"message was created automatically "
        r"by (?:mail delivery software|the smtp relay)",
    ),
    format_detector(_FORMAT),
    PHRASES,
)
