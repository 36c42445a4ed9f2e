"""Recipients of non-RFC 3464 bounces: flufl.bounce first, then our own per-format detectors."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Final

from flufl.bounce import all_failures

log = logging.getLogger(__name__)

CONTEXT_LINES: Final = 16
_ADDRESS: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Where the notice ends and the quoted original message begins.  Everything after is the
# customer's own text, which must never be read as a diagnostic.
_ORIGINAL_MARKER: Final = re.compile("|".join((
    r"^\s*-{2,}\s*(original message|below this line is a copy|this is a copy of the message)",
    r"^\s*-{2,}\s*(undelivered|returned) (message|mail)",
    r"^\s*(possibly truncated )?original message (follows|details)",
    r"^\s*-{0,}\s*(原始邮件|原始郵件|原始信件|元のメッセージ)",
)), re.IGNORECASE | re.MULTILINE)
# Addresses a mail system mentions about itself, never a failed recipient.
_SYSTEM_LOCAL: Final = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|abuse|noreply)@")
_PUNCT_ONLY: Final = re.compile(r"^[\s<>:()\[\]\"',;*-]*$")


@dataclass(frozen=True, slots=True)
class Found:
    """One failed recipient a detector found; diagnostic None means "look near the address"."""

    address: str
    action: str
    diagnostic: str | None = None


#: (message, notice text, addresses that are ours or the bounce's sender) -> failed recipients.
Detector = Callable[[Message, str, set[str]], list[Found]]


def notice_only(text: str) -> str:
    """The notice without the quoted original message."""
    marker = _ORIGINAL_MARKER.search(text)
    return text[: marker.start()] if marker else text


def _clean(address: str, exclude: set[str]) -> str | None:
    addr = address.strip().strip("<>\"'.,;:()[]").lower()
    if "@" not in addr or addr in exclude or _SYSTEM_LOCAL.match(addr):
        return None
    return addr


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
        addr = _clean(raw.decode("ascii", "replace"), exclude)
        if addr and all(f.address != addr for f in found):
            found.append(Found(addr, action))
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
        others = {a.lower() for a in _ADDRESS.findall(line)} - {address}
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


# Chinese and Japanese servers (Coremail, Exchange in zh/ja locales, ISP MTAs) write notices
# that none of flufl.bounce's English-keyed heuristics recognize.
_CJK_INTRO: Final = re.compile(
    r"未能成功投递|无法投递|無法傳遞|未能傳遞|傳遞失敗|投递失败|无法送达|無法送達"
    r"|配信できませんでした|送信できませんでした|宛先不明")


def detect_cjk_notice(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    """Addresses listed after a Chinese/Japanese "could not be delivered" sentence."""
    notice = notice_only(text)
    intro = _CJK_INTRO.search(notice)
    if intro is None:
        return []
    found: list[Found] = []
    for raw in _ADDRESS.findall(notice[intro.end() :]):
        addr = _clean(raw, exclude)
        if addr and all(f.address != addr for f in found):
            found.append(Found(addr, "failed"))
    return found


# GroupWise writes "undeliverable to the following:" then one TAB-indented "rcpt (why)" line
# per recipient.  flufl.bounce's GroupWise detector takes everything up to the first space as
# the address, TAB included, and its own address check then rejects it: it finds nothing.
_GROUPWISE_INTRO: Final = re.compile(r"(was|were) undeliverable to the following", re.IGNORECASE)
_GROUPWISE_LINE: Final = re.compile(
    r"^[ \t]+<?(?P<addr>[^\s<>@]+@[^\s<>@]+?)>?[ \t]+\((?P<why>[^)]{1,300})\)", re.MULTILINE)


def detect_groupwise(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    """GroupWise "Message status - undeliverable": recipients with a parenthesized reason."""
    notice = notice_only(text)
    intro = _GROUPWISE_INTRO.search(notice)
    if intro is None:
        return []
    found: list[Found] = []
    for match in _GROUPWISE_LINE.finditer(notice, intro.end()):
        addr = _clean(match.group("addr"), exclude)
        if addr and all(f.address != addr for f in found):
            found.append(Found(addr, "failed", match.group("why")))
    return found


#: Our detectors, tried in order when flufl.bounce finds nothing in a bounce-looking message.
DETECTORS: Final[tuple[tuple[str, Detector], ...]] = (
    ("cjk_notice", detect_cjk_notice),
    ("groupwise", detect_groupwise),
)
