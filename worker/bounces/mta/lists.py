"""Mailing-list managers that refuse a post: fml, and Apache James' (JavaMail) notices."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from worker.bounces.mta.base import (
    Family,
    Format,
    Found,
    clean,
    compile_phrases,
    format_detector,
)

# fml (a Japanese list server) answers a post from a non-member with "You are not a member
# of this mailing list <list@example.org>." and marks its mail X-MLServer: fml: the list
# refused our sender, so the report is about the list address and the reason is rejected.
# It also returns "Your mail is too big" and "command ... is not supported".
_FML_REFUSAL: Final = re.compile(
    r"not a member of this mailing list <(?P<addr>[^<>\s]+)>|"
    r"you are not a member of (?:the )?(?P<list>\S+@\S+)",
    re.I,
)


def detect_fml(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    match = _FML_REFUSAL.search(text)
    if match is None:
        return []
    addr = clean(match.group("addr") or match.group("list") or "", exclude, system_ok=True)
    return [Found(addr, "failed", match.group(0), reason="rejected")] if addr else []


def _fml_claims(msg: Message, text: str) -> bool:
    return "fml" in str(msg.get("x-mlserver", "")).lower() or bool(_FML_REFUSAL.search(text))


FML: Final = Family(
    "fml", _fml_claims, detect_fml, compile_phrases((("mesgtoobig", (r"your mail is too big",)),))
)

# Apache James writes "Error: <why>", "Error message below:" and the remote reply, then
# "Message details:" with "MAIL FROM:" and "RCPT TO:" lines: the recipient comes last.
_JAMES: Final = Format(
    recipient=re.compile(r"^\s*rcpt to:\s*<?(?P<addr>[^\s<>]+@[^\s<>]+?)>?(?P<why>\s.*)?$", re.I),
    reason_first=True,
)


def _james_claims(msg: Message, text: str) -> bool:
    return (
        "javamail" in str(msg.get("message-id", "")).lower() and "message details:" in text.lower()
    )


JAMES: Final = Family("apachejames", _james_claims, format_detector(_JAMES))
