"""Gmail and Google Groups as the sending side, and Google's documented replies as the receiver."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from worker.bounces.mta.base import (
    Family,
    Format,
    Found,
    Host,
    clean,
    compile_phrases,
    format_detector,
    header_claim,
)

# Gmail's own notices (before it sent DSN parts) read "Delivery to the following recipient
# failed permanently:" / "Delivery to the following recipient has been delayed:", the
# address indented five spaces, then "Technical details of permanent failure:" and the
# remote reply after "The error that the other server returned was:".  Its local verdicts:
# "DNS Error: Domain name not found" / "Address not found" (no domain or user), "The
# recipient server did not accept our requests to connect" and "Message delivery has been
# stopped ... 550 ... timeout" (a host that never answered: expired after retries),
# "Your message was rejected by the recipient ... size" (too big).  Google Groups bounces a
# post from a non-member in the reader's language, naming the group in X-Failed-Recipients:
# the group refused us (rejected), whatever the wording.
_GMAIL: Final = Format(
    start=re.compile(
        r"delivery to the following recipients? (?:failed permanently|has been "
        r"delayed|failed)|your message wasn'?t delivered to|message not delivered",
        re.I,
    ),
    end=re.compile(r"^\s*-+\s*original message", re.I | re.M),
    delayed=re.compile(r"has been delayed|will (?:retry|keep trying)|temporary failure", re.I),
)
PHRASES: Final = compile_phrases(
    (
        (
            "expired",
            (
                r"did not accept our requests to connect",
                r"(?:delivery|message) (?:has been "
                r")?(?:stopped|given up) .*(?:time|retry|retries)",
                r"retry timeout exceeded",
                r"we'?ll (?:keep trying|retry) for \d+ more",
                r"gave up",
            ),
        ),
        (
            "hostunknown",
            (
                r"dns error: domain name not found",
                r"dns error: dns type '?mx'? lookup",
                r"domain name not found",
            ),
        ),
        (
            "rejected",
            (
                r"google groups",
                r"you do not have permission to post",
                r"グループ",
                r"not a member of (?:the|this) group",
            ),
        ),
    )
)
_LAYOUT: Final = format_detector(_GMAIL)


def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    """Gmail's layout; for a Google Groups refusal, the group named in X-Failed-Recipients."""
    groups = [
        clean(a, exclude, system_ok=True)
        for a in re.findall(r"[\w.+-]+@googlegroups\.com", str(msg.get("x-failed-recipients", "")))
    ]
    if groups:
        return [
            Found(a, "failed", " ".join(text.split()[:60]), reason="rejected")
            for a in dict.fromkeys(groups)
            if a
        ]
    return _LAYOUT(msg, text, exclude)


FAMILY: Final = Family(
    "gmail",
    header_claim(from_=r"mailer-daemon@google(?:mail)?\.com", x_gm_message_state=r"."),
    detect,
    PHRASES,
)
# Google's reply texts as published in its "SMTP error reference" for senders.  The
# enhanced code alone is ambiguous (5.7.1 covers spam, policy and authentication), so
# the wording decides.
HOST: Final = Host(
    "google",
    re.compile(r"(?:^|\.)(?:google\.com|googlemail\.com|gmail\.com|1e100\.net)$|gsmtp", re.I),
    compile_phrases(
        (
            (
                "userunknown",
                (
                    r"email account that you tried to reach does not exist",
                    r"account that you tried to reach is disabled.*5\.1\.1",
                    r"try double-checking the recipient'?s email address for typos",
                ),
            ),
            (
                "suspend",
                (
                    r"account that you tried to reach is (?:disabled|inactive)",
                    r"email account that you tried to reach is inactive",
                ),
            ),
            (
                "mailboxfull",
                (
                    r"(?:email )?account that you tried to reach is over quota",
                    r"mailbox is full|out of storage space",
                ),
            ),
            (
                "exceedlimit",
                (
                    r"receiving mail at a rate that prevents additional messages",
                    r"receiving mail (?:too quickly|more quickly than)",
                ),
            ),
            (
                "requireptr",
                (
                    r"does not have a ptr record setup",
                    r"ip address sending this message"
                    r" does not have a ptr",
                    r"corresponding forward dns entry does not "
                    r"point to the sending ip",
                ),
            ),
            (
                "authfailure",
                (
                    r"unauthenticated email from .* is not accepted due to",
                    r"dmarc (?:policy|rejection)",
                    r"does not meet ipv6 sending guidelines"
                    r" regarding ptr records and authentication",
                    r"is not authenticated"
                    r" with dkim or spf|sender is unauthenticated|authentication is "
                    r"required|message does not pass authentication",
                ),
            ),
            (
                "blocked",
                (
                    r"ip(?: address)? .* (?:is|has been) (?:blocked|temporarily rate limited)"
                    r".*(?:suspicious|unsolicited)",
                    r"the ip you'?re using to send mail is"
                    r" not authorized",
                    r"our system has detected an unusual rate of "
                    r"unsolicited mail originating from your ip",
                ),
            ),
            (
                "badreputation",
                (
                    r"very low reputation of the sending (?:ip|domain)",
                    r"likely suspicious due to the very low reputation",
                ),
            ),
            (
                "ratelimited",
                (
                    r"unusual rate of unsolicited mail originating from your "
                    r"(?:ip|domain)|has been temporarily rate limited",
                ),
            ),
            (
                "spamdetected",
                (
                    r"message has been blocked because it (?:is|looks) (?:likely )?(?:to "
                    r"be )?(?:spam|unsolicited)",
                    r"this message has been blocked because "
                    r"it looks unsolicited|likely unsolicited mail",
                    r"detected that this message is likely suspicious",
                ),
            ),
            (
                "virusdetected",
                (
                    r"message contains a (?:potential )?(?:security issue|virus)",
                    r"this message was blocked because its content presents a potential"
                    r" security issue",
                ),
            ),
            (
                "policyviolation",
                (
                    r"illegal attachment",
                    r"message was blocked .* (?:policy|"
                    r"administrator)",
                    r"file types? .* (?:not allowed|blocked)",
                ),
            ),
            ("mesgtoobig", (r"message (?:you sent )?(?:was|is) too large|size limit",)),
            (
                "notcompliantrfc",
                (
                    r"not rfc ?5322 compliant",
                    r"multiple (?:from|subject|to|date)"
                    r" headers",
                    r"message is not rfc 5322",
                ),
            ),
            ("contenterror", (r"message header (?:is )?(?:invalid|malformed)",)),
        )
    ),
)
