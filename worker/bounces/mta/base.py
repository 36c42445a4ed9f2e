"""What every plain-text bounce detector shares: the Found record, Format table and scanner."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import Message
from typing import Final

ADDRESS: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Where a notice ends and the returned message begins, in the wordings MTAs use.  Everything
# after it is our own message, whose text must never be read as a diagnostic.
ORIGINAL_MARKER: Final = re.compile(
    "|".join(
        (
            r"^\s*-{2,}\s*(original message|below this line is a copy"
            r"|this is a copy of the message)",
            r"^\s*-{2,}\s*(undelivered|returned|unsent|rejected) (message|mail)",
            r"^\s*-{2,}\s*(the )?(original|returned) message (follows|headers)",
            r"^\s*(possibly truncated )?original message (follows|details|headers)",
            r"^\s*below is a copy of the original message",
            r"^\s*message headers follow",
            r"^\s*-+\s*message header follows",
            r"^\s*original message:\s*$",
            r"^\s*-{0,}\s*(原始邮件|原始郵件|原始信件|元のメッセージ)",
        )
    ),
    re.IGNORECASE | re.MULTILINE,
)
# Addresses a mail system mentions about itself, never a failed recipient.
_SYSTEM_LOCAL: Final = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|abuse|noreply|no-reply|post_master)@", re.I
)
# "550 <a@b>... User unknown", "<a@b>: host x said:", "a@b: 550 5.1.1 ...", "  a@b (why)".
RECIPIENT_LINE: Final = re.compile(
    r"^[ \t]*(?:>>>[ \t]*)?(?:(?:rcpt|recipient|to|address(?:es)?)[ \t]*:[ \t]*)?"
    r"<?(?P<addr>[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+)>?"
    r"(?P<why>(?:[ \t:,.;(\[<]|\.\.\.).*)?$",
    re.IGNORECASE,
)
_HEADER_LINE: Final = re.compile(
    r"^\s*(from|to|cc|reply-to|sender|return-path|received|message-id|date|subject|"
    r"in-reply-to|references|envelope-to|delivered-to|x-[\w-]+)\s*:",
    re.IGNORECASE,
)
# The SMTP command a refusal answered, in each MTA's words; the reason often depends on it
# (an "unknown user" answer to DATA is a content filter, not a missing mailbox).
_COMMANDS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(p, re.IGNORECASE), c)
    for p, c in (
        (
            r"in reply to (?:end of )?data\b|after (?:end of )?data\b|final data\b|\(data\)"
            r"|>>> data\b|\[data\]|data command|\bsmtp:data\b|smtp command:?\s*data\b",
            "DATA",
        ),
        (
            r"in reply to rcpt\b|after rcpt\b|rcpt to:?\s*(?:<[^>]*>)?\s*(?:command)?\s*:?$"
            r"|>>> rcpt\b|\[rcpt_?to\]|rcpt to command|\(rcpt\)|our rcpt|rcpt to response"
            r"|does not like recipient|\bsmtp:rcpt\b|smtp command:?\s*rcpt\b",
            "RCPT",
        ),
        (
            r"in reply to mail\b|after mail from\b|>>> mail from\b|\[mail_?from\]"
            r"|mail from command|our mail from|\bsmtp:mail\b|smtp command:?\s*mail\b"
            r"|but sender was rejected",
            "MAIL",
        ),
        (
            r"in reply to (?:helo|ehlo)\b|after (?:helo|ehlo)\b|>>> (?:helo|ehlo)\b"
            r"|initial connection|smtp greeting|banner|connect(?:ion)? (?:to|with)\b.*refused"
            r"|but greeting failed|but my name was rejected|refused to talk to me",
            "CONN",
        ),
    )
)


@dataclass(frozen=True, slots=True)
class Found:
    """One recipient a detector found, with what its notice says about it.

    diagnostic None means "look near the address"; reason is a verdict the mail system's own
    wording makes certain (a value of the Reason enum, as text: this module knows no enum)."""

    address: str
    action: str
    diagnostic: str | None = None
    status: str | None = None
    command: str | None = None
    remote_host: str | None = None
    reason: str | None = None


#: (message, notice text, addresses that are ours or the bounce's sender) -> recipients.
Detector = Callable[[Message, str, set[str]], list[Found]]
#: Does this message come from the mail system? (message, notice text) -> bool.
Claim = Callable[[Message, str], bool]
#: Ordered (reason, patterns) pairs against normalized (lowercased, one-space) text.
Phrases = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Format:
    """How one mail system lays out its plain-text notice.

    start: the sentence right before the recipient list (None: read from the top);
    end: where its own notice ends, besides the common "original message" markers;
    recipient: a line naming one recipient (group "addr", the rest of the line "why");
    reason_first: the explanation comes before the recipient line (sendmail transcripts,
    Lotus Notes), not after it; delayed: wording that makes the whole notice a delay."""

    start: re.Pattern[str] | None = None
    end: re.Pattern[str] | None = None
    recipient: re.Pattern[str] = RECIPIENT_LINE
    reason_first: bool = False
    delayed: re.Pattern[str] | None = None
    action: str = "failed"
    #: A line that opens a new exchange (sendmail's "... while talking to host:"): the
    #: explanation gathered so far belonged to nobody.
    separator: re.Pattern[str] | None = None


def clean(address: str, exclude: set[str], *, system_ok: bool = False) -> str | None:
    """A lowercased recipient address, or None for ours, the sender's, or (unless the layout
    itself says this line names a recipient) a system address such as postmaster@."""
    addr = address.strip().strip("<>\"'.,;:()[]").lower()
    if "@" not in addr or addr in exclude or (not system_ok and _SYSTEM_LOCAL.match(addr)):
        return None
    return addr


def notice_only(text: str, end: re.Pattern[str] | None = None) -> str:
    """The notice without the quoted original message."""
    cut = len(text)
    for marker in (ORIGINAL_MARKER, end):
        found = marker.search(text) if marker is not None else None
        if found is not None:
            cut = min(cut, found.start())
    return text[:cut]


def command_in(text: str | None) -> str | None:
    """The SMTP command a refusal answered (DATA, RCPT, MAIL, CONN), when the text says."""
    if not text:
        return None
    for pattern, command in _COMMANDS:
        if pattern.search(text):
            return command
    return None


def scan(fmt: Format, text: str, exclude: set[str]) -> list[Found]:
    """Recipients and their explanation from a notice laid out as fmt describes."""
    notice = notice_only(text, fmt.end)
    if fmt.start is not None:
        intro = fmt.start.search(notice)
        if intro is None:
            return []
        notice = notice[intro.end() :]
    action = fmt.action
    if fmt.delayed is not None and fmt.delayed.search(text):
        action = "delayed"
    blocks: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    for raw in notice.splitlines():
        line = raw.strip()
        if not line:
            continue
        if fmt.separator is not None and fmt.separator.search(line):
            pending = [line]
            continue
        match = fmt.recipient.match(raw) if not _HEADER_LINE.match(raw) else None
        addr = clean(match.group("addr"), exclude, system_ok=True) if match else None
        if addr is None or match is None:
            (pending if fmt.reason_first or not blocks else blocks[-1][1]).append(line)
            continue
        why = (match.group("why") or "").strip(" \t:.,;")
        if blocks and blocks[-1][0] == addr and not fmt.reason_first:
            blocks[-1][1].append(line)  # the reply quoting the address it refused
            continue
        lines = [*pending, why] if fmt.reason_first else [why]
        pending = []
        blocks.append((addr, [x for x in lines if x]))
    found: dict[str, Found] = {}
    for addr, lines in blocks:
        diagnostic = " ".join(lines) or None
        if addr in found:
            if diagnostic and not found[addr].diagnostic:
                found[addr] = replace(found[addr], diagnostic=diagnostic)
            continue
        found[addr] = Found(addr, action, diagnostic, command=command_in(diagnostic))
    return list(found.values())


def header_claim(**patterns: str) -> Claim:
    """A Claim that any of the named headers matches its pattern ("subject", "from", ...);
    "body" matches the notice text."""
    compiled = {
        name.rstrip("_").replace("_", "-"): re.compile(p, re.IGNORECASE)
        for name, p in patterns.items()
    }

    def claim(msg: Message, text: str) -> bool:
        for name, pattern in compiled.items():
            if name == "body":
                if pattern.search(text[:20_000]):
                    return True
                continue
            for value in msg.get_all(name) or []:
                if pattern.search(str(value)):
                    return True
        return False

    return claim


def compile_phrases(table: Phrases) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """One alternation per reason, in table order."""
    return tuple(
        (reason, re.compile("|".join(f"(?:{p})" for p in patterns))) for reason, patterns in table
    )


@dataclass(frozen=True, slots=True)
class Family:
    """One mail system: how to tell its notices, read them, and word its own verdicts."""

    name: str
    claims: Claim
    detect: Detector
    phrases: tuple[tuple[str, re.Pattern[str]], ...] = ()


@dataclass(frozen=True, slots=True)
class Host:
    """A receiving provider: its MX host names and the reply wordings it documents."""

    name: str
    hosts: re.Pattern[str]
    replies: tuple[tuple[str, re.Pattern[str]], ...]


def format_detector(*formats: Format) -> Detector:
    """A Detector that tries each layout in turn and keeps the first that finds anyone."""

    def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
        for fmt in formats:
            found = scan(fmt, text, exclude)
            if found:
                return found
        return []

    return detect


def verdict(phrases: tuple[tuple[str, re.Pattern[str]], ...], text: str | None) -> str | None:
    """The first reason whose pattern matches the normalized text, or None."""
    if not text:
        return None
    flat = " ".join(text.lower().split())
    for reason, pattern in phrases:
        if pattern.search(flat):
            return reason
    return None
