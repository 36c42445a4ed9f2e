"""Yahoo! (and AOL, now one provider): its old text notices and its documented reply codes."""

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

# Yahoo's notice: "Sorry, we were unable to deliver your message to the following address."
# then "<rcpt>:" and "Remote host said: 550 ... [RCPT_TO]" (the command in brackets), then
# "--- Below this line is a copy of the message."  Its MTAs answer with their own wording:
# "554 delivery error: dd This user doesn't have a yahoo.com account" / "dd Requested mailbox
# is not valid" (no such user, at RCPT), "dd Sorry your message to x cannot be delivered.
# This mailbox is disabled (554.30)" (suspended), "mailbox is full"/"over quota" (full),
# "[TSS04] Messages from x temporarily deferred due to unexpected volume or user complaints"
# and "[TS01]/[TS02]" (rate of complaints: blocked), "[TSS09] All messages from x will be
# permanently deferred" (blocklisted), "Message not accepted for policy reasons" with 5.7.9
# (policy), "[BL21]/[BL23]" (Spamhaus-listed: blocked).
_FORMAT: Final = Format(
    start=re.compile(r"unable to deliver your message to the following address", re.I),
    end=re.compile(r"^\s*-+\s*below this line is a copy", re.I | re.M),
)
FAMILY: Final = Family(
    "yahoo",
    header_claim(
        from_=r"mailer-daemon@(?:.*\.)?yahoo", x_ymailisg=r".", x_yahoo_newman_property=r"."
    ),
    format_detector(_FORMAT),
    compile_phrases(
        (
            (
                "userunknown",
                (
                    r"dd this user doesn'?t have a \S+ account",
                    r"dd requested mailbox is"
                    r" not valid",
                    r"user doesn'?t have a yahoo",
                ),
            ),
        )
    ),
)
HOST: Final = Host(
    "yahoo",
    re.compile(
        r"(?:^|\.)(?:yahoo(?:dns)?\.(?:com|net|co\.jp|co\.\w\w)|yahoo\.\w\w|aol\.com|"
        r"ymail\.com|am0\.yahoodns\.net)$",
        re.I,
    ),
    compile_phrases(
        (
            (
                "userunknown",
                (
                    r"this user doesn'?t have a \S+ account",
                    r"requested mailbox is not "
                    r"valid",
                    r"user unknown",
                ),
            ),
            ("suspend", (r"this mailbox is disabled", r"\(554\.30\)", r"mailbox is inactive")),
            ("mailboxfull", (r"mailbox is full|over quota",)),
            (
                "blocked",
                (
                    r"\[ts0[1-3]\]",
                    r"\[tss0[49]\]",
                    r"\[bl2[13]\]",
                    r"\[tsm?\d\d\] .*"
                    r"(?:deferred|blocked)",
                    r"messages from \S+ temporarily deferred due to "
                    r"(?:unexpected volume or )?user complaints",
                    r"permanently deferred",
                ),
            ),
            ("policyviolation", (r"message not accepted for policy reasons",)),
            ("authfailure", (r"dmarc|dkim|spf",)),
        )
    ),
)
