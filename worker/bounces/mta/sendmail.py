"""sendmail (8.x and V5) and look-alikes (ActiveHunter, X1): address lists and SMTP transcripts."""

from __future__ import annotations

import re
from dataclasses import replace
from email.message import Message
from typing import Final

from worker.bounces.mta.base import (
    Family,
    Format,
    Found,
    command_in,
    compile_phrases,
    header_claim,
    scan,
)

# sendmail 8 writes "----- The following addresses had permanent fatal errors -----" (or
# "transient non-fatal errors" for a delay warning) with one address per line, then
# "----- Transcript of session follows -----": "... while talking to mx.example.net.:",
# ">>> RCPT To:<rcpt>", "<<< 550 5.1.1 <rcpt>... User unknown", and a summary line "550 5.1.1
# <rcpt>... User unknown".  The reply that matters is the "<<<" line before the summary, and
# the ">>>" line names the command it answered.  V5 sendmail (and its clones) skips the
# address list: the transcript's summary lines are the only place recipients appear.  Local
# failures: "... Deferred: Connection refused by" with "Message could not be delivered for N
# days" (expired), "Host unknown (Name server: host not found)" (no domain), "Service
# unavailable" from a DATA refusal.  ActiveHunter and X1 reuse the address-list layout.
_SECTION: Final = Format(
    start=re.compile(
        r"-+\s*the following addresses? had (?:permanent fatal|transient non-fatal|"
        r"permanent delivery|delivery) (?:errors|problems)\s*-+|-+\s*the following"
        r" addresses had delivery errors\s*-+",
        re.I,
    ),
    end=re.compile(
        r"^\s*-+\s*(?:transcript of session follows|non-delivered information|"
        r"original message|unsent message follows)",
        re.I | re.M,
    ),
)
# "550 5.1.1 <rcpt>... User unknown" / "<rcpt>... Deferred: ..." / "rcpt... reason".
_SUMMARY: Final = re.compile(
    r"^\s*(?:[245]\d\d(?:[ -][245]\.\d{1,3}\.\d{1,3})?\s+)?<?(?P<addr>[^\s<>@]+@[^\s<>@]+?)>?"
    r"\.\.\.\s*(?P<why>.*)$"
)
_TRANSCRIPT: Final = Format(
    start=re.compile(r"-+\s*transcript of session follows\s*-+", re.I),
    end=re.compile(
        r"^\s*-+\s*(?:unsent message follows|original message follows|"
        r"message header follows)",
        re.I | re.M,
    ),
    recipient=_SUMMARY,
    reason_first=True,
    separator=re.compile(r"while talking to ", re.I),
)
_DELAYED: Final = re.compile(
    r"transient non-fatal errors|warning: could not send message"
    r"|will keep trying|still trying",
    re.I,
)
_EXPIRED: Final = re.compile(
    r"could not be delivered for (?:\d+|too long)|message will be "
    r"deleted from queue|cannot send message for \d+ days?",
    re.I,
)


def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    """Addresses from the list, explanations from the transcript."""
    listed = scan(_SECTION, text, exclude)
    told = {f.address: f for f in scan(_TRANSCRIPT, text, exclude)}
    transcript = _TRANSCRIPT.start.search(text) if _TRANSCRIPT.start else None
    whole = " ".join(text[transcript.end() :].split()[:120]) if transcript else None
    subject = str(msg.get("subject", ""))
    action = "delayed" if _DELAYED.search(text) or _DELAYED.search(subject) else "failed"
    expired = bool(_EXPIRED.search(text))
    out: list[Found] = []
    for item in [*listed, *(f for a, f in told.items() if a not in {x.address for x in listed})]:
        said = told.get(item.address)
        diagnostic = said.diagnostic if said and said.diagnostic else item.diagnostic
        if said is None and len(listed) == 1 and whole:
            diagnostic = " ".join(x for x in (item.diagnostic, whole) if x)
        out.append(
            replace(
                item,
                action=action,
                diagnostic=diagnostic,
                command=command_in(diagnostic),
                reason="expired" if expired else None,
            )
        )
    return out


PHRASES: Final = compile_phrases(
    (
        (
            "hostunknown",
            (r"host unknown \(name server", r"name server: .* host not found", r"550 host unknown"),
        ),
        ("userunknown", (r"\.\.\. user unknown", r"no such user here")),
        ("networkerror", (r"remote protocol error", r"connection reset by peer")),
        ("systemerror", (r"unable to contact destination smtp daemon",)),
    )
)
FAMILY: Final = Family(
    "sendmail",
    header_claim(
        body=r"-+\s*transcript of session follows|-+\s*the following addresses? had ",
        subject=r"^returned mail: |^warning: could not send message",
    ),
    detect,
    PHRASES,
)
