"""Recipients beyond RFC 3464: flufl.bounce's fallback, X-Failed-Recipients, ARF complainers."""

from __future__ import annotations

import logging
import re
from email.message import Message
from typing import Final

from flufl.bounce import all_failures

from worker.bounces import mime, mta
from worker.bounces.mta.base import ADDRESS, Detector, Found, clean, notice_only

log = logging.getLogger(__name__)

__all__ = [
    "DETECTORS",
    "Detector",
    "Found",
    "complaint_findings",
    "context_for",
    "failed_recipients_header",
    "flufl_failures",
    "notice_only",
]

CONTEXT_LINES: Final = 16
_PUNCT_ONLY: Final = re.compile(r"^[\s<>:()\[\]\"',;*-]*$")
#: Our own per-family detectors, in the order parse.py tries them (names are report sources).
DETECTORS: Final[tuple[tuple[str, Detector], ...]] = tuple(
    (family.name, family.detect) for family in mta.FAMILIES
)


def flufl_failures(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    """flufl.bounce's verdict, as Found records; any exception inside it means "nothing"."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # its detectors index into payloads that hostile mail leaves out
        log.info("flufl.bounce raised on a message", exc_info=True)
        return []
    found: list[Found] = []
    for raw, action in [(a, "failed") for a in sorted(permanent)] + [
        (a, "delayed") for a in sorted(temporary - permanent)
    ]:
        addr = clean(raw.decode("ascii", "replace"), exclude)
        if addr and all(f.address != addr for f in found):
            found.append(Found(addr, action))
    return found


def failed_recipients_header(msg: Message, exclude: set[str]) -> list[Found]:
    """Exim and Gmail name every failed address in X-Failed-Recipients, whatever the text."""
    values = mime.header_all(msg, "x-failed-recipients")
    found: list[Found] = []
    for raw in ADDRESS.findall(" ".join(values)):
        addr = clean(raw, exclude, system_ok=True)
        if addr and all(f.address != addr for f in found):
            found.append(Found(addr, "failed"))
    return found


def complaint_findings(feedback: list[Message], returned: list[Message]) -> list[Found]:
    """The complainers of an ARF report (RFC 5965): Original-Rcpt-To, else the To: of the
    returned message, whose header sets are returned (most providers redact Original-Rcpt-To,
    some leave it out)."""
    fields: dict[str, str] = {}
    for part in feedback:
        for name, value in mime.feedback_fields(part).items():
            fields.setdefault(name, value)
    why = fields.get("feedback-type", "abuse").strip().lower() or "abuse"
    values = [fields["original-rcpt-to"]] if fields.get("original-rcpt-to") else []
    if not values:
        for headers in returned:
            values.extend(mime.header_all(headers, "to"))
    found: list[Found] = []
    for addr in mime.addresses(values):
        if all(f.address != addr for f in found):
            found.append(Found(addr, "complaint", f"feedback-type: {why}", reason="feedback"))
    return found


def context_for(address: str, text: str) -> str | None:
    """The lines that talk about one address: from its first mention until the next address
    or the quoted original, or the paragraph before it when it is the last thing said."""
    lines = notice_only(text).splitlines()
    start = next((i for i, line in enumerate(lines) if address in line.lower()), None)
    if start is None:
        return None
    after: list[str] = []
    for line in lines[start : start + CONTEXT_LINES]:
        others = {a.lower() for a in ADDRESS.findall(line)} - {address}
        if after and others and address not in line.lower():
            break  # the next recipient's paragraph
        rest = line.lower().replace(address, "")
        if not _PUNCT_ONLY.match(rest):
            after.append(line.strip())
    if not after:
        before: list[str] = []
        for line in reversed(lines[max(0, start - 5) : start]):
            if not line.strip():
                break
            before.insert(0, line.strip())
        after = before
    return " ".join(after) or None
