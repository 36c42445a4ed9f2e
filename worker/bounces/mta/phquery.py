"""The CSO/ph directory mailer (phquery) that universities ran: bare names, no domains."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from worker.bounces import mime
from worker.bounces.mta.base import Family, Found, clean, compile_phrases, notice_only

# phquery resolves "name@university" through the campus ph directory and answers a miss
# with "--------Message not delivered to the following:", one indented line per name:
# "  name    No matches to nameserver query" (or "Multiple matches found"), then
# "--------Error Detail (phquery V4.1):".  The name carries no domain: it is the domain the
# notice comes from, without the relay's own host label.
_START: Final = re.compile(r"-+\s*message not delivered to the following:?", re.I)
_END: Final = re.compile(r"^\s*-+\s*(?:error detail|unsent message)", re.I | re.M)
_LINE: Final = re.compile(r"^\s*(?P<name>[\w.+-]+)\s{2,}(?P<why>\S.*)$")
_SECOND_LEVEL: Final = frozenset({"ac", "co", "com", "edu", "gov", "net", "or", "org", "ne"})


def _home_domain(msg: Message) -> str | None:
    senders = mime.sender_addresses(msg)
    if not senders:
        return None
    labels = senders[0].rsplit("@", 1)[-1].split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:]) if len(labels) >= 2 else None


def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    notice = notice_only(text, _END)
    start = _START.search(notice)
    domain = _home_domain(msg)
    if start is None or domain is None:
        return []
    found: list[Found] = []
    for line in notice[start.end() :].splitlines():
        match = _LINE.match(line)
        addr = clean(f"{match.group('name')}@{domain}", exclude) if match else None
        if match and addr and all(f.address != addr for f in found):
            found.append(Found(addr, "failed", match.group("why").strip()))
    return found


FAMILY: Final = Family(
    "phquery",
    lambda msg, text: bool(re.search(r"error detail \(phquery", text[:20_000], re.I)),
    detect,
    compile_phrases((("userunknown", (r"no matches to nameserver query",)),)),
)
