"""Verizon Wireless MMS gateways: the recipient is only named in the returned copy's To: line."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from worker.bounces.mta.base import Family, Found, clean, compile_phrases, header_claim

# vzwpix.com / vtext.com ("MMSC NDR Administrator") answer with "Message could not be
# delivered to mobile." and "Error: No valid recipients for this MM"; the failed number
# appears only in the "Original Message:" block as "To: 5555550100@vzwpix.com".
_INTRO: Final = re.compile(r"could not be delivered to mobile|error: no valid recipients", re.I)
_ORIGINAL_TO: Final = re.compile(r"^\s*to:\s*(?P<value>.+)$", re.I | re.M)
_ERROR: Final = re.compile(r"^\s*error:\s*(?P<why>.+)$", re.I | re.M)
_ADDRESS: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    intro = _INTRO.search(text)
    if intro is None:
        return []
    why = _ERROR.search(text)
    found: list[Found] = []
    for line in _ORIGINAL_TO.finditer(text, intro.end()):
        for raw in _ADDRESS.findall(line.group("value")):
            addr = clean(raw, exclude, system_ok=True)
            if addr and all(f.address != addr for f in found):
                found.append(Found(addr, "failed", why.group("why") if why else None))
    return found


FAMILY: Final = Family(
    "verizon",
    header_claim(from_=r"@(?:\S+\.)?(?:vzwpix|vtext|vzw)\.com", body=_INTRO.pattern),
    detect,
    compile_phrases((("userunknown", (r"no valid recipients for this mm",)),)),
)
