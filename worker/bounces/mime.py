"""MIME part walking for bounces: the notice's parts, their text, DSN and ARF fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser
from typing import Final

from worker.bounces.mime_headers import (
    addresses,
    decode,
    decode_text,
    header,
    header_all,
    returned_to,
    sender_addresses,
)
from worker.bounces.mime_sniff import (
    bounce_subject,
    is_auto_reply,
    is_daemon,
    looks_like_bounce,
    report_type,
)

# Header decoding and bounce sniffing live beside this module; callers reach them here too.
__all__ = [
    "FEEDBACK_TYPE",
    "MAX_DEPTH",
    "MAX_TEXT",
    "MDN_TYPE",
    "addresses",
    "bounce_subject",
    "decode_text",
    "dsn_blocks",
    "feedback_fields",
    "header",
    "header_all",
    "is_auto_reply",
    "is_daemon",
    "looks_like_bounce",
    "mdn_fields",
    "notification_text",
    "original_senders",
    "parse_fields",
    "part_text",
    "payload_text",
    "raw_payload",
    "report_type",
    "returned_headers",
    "returned_to",
    "sender_addresses",
    "split_parts",
]

MAX_DEPTH: Final = 12
MAX_TEXT: Final = 200_000
_RETURNED_TYPES: Final = frozenset(
    {
        "message/rfc822",
        "text/rfc822-headers",
        "message/global",
        "message/global-headers",
        "message/partial",
    }
)
_DSN_TYPES: Final = frozenset({"message/delivery-status", "message/global-delivery-status"})
#: ARF (RFC 5965): the machine-readable part of a complaint.
FEEDBACK_TYPE: Final = "message/feedback-report"
_NOT_WALKED: Final = _RETURNED_TYPES | _DSN_TYPES | {FEEDBACK_TYPE}
_SENDER_HEADERS: Final = ("return-path", "x-original-return-path", "sender")
_RETURN_PATH_LINE: Final = re.compile(
    r"^[ \t>]*(?:x-original-)?return-path:[ \t]*<?([^<>\s]+@[^<>\s]+)>?", re.I | re.M
)
_TAGS: Final = re.compile(r"<[^>]{0,2000}>")


def raw_payload(part: Message) -> object:
    """get_payload() that never raises: compat32 re-decodes 8-bit text with the declared
    charset, and a charset parameter with a NUL or a bogus name makes that raise."""
    try:
        return part.get_payload()
    except Exception:
        try:
            data = part.get_payload(decode=True)
        except Exception:
            return ""
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _walk(part: Message, depth: int = 0) -> Iterator[Message]:
    """Parts of the bounce itself: does not descend into returned messages or DSN blocks."""
    yield part
    if depth >= MAX_DEPTH or part.get_content_type() in _NOT_WALKED:
        return
    payload = raw_payload(part)
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _walk(sub, depth + 1)


def split_parts(msg: Message) -> tuple[list[Message], list[Message], list[Message]]:
    """(leaf parts of the notice, delivery-status parts, returned-message parts)."""
    leaves: list[Message] = []
    dsn: list[Message] = []
    returned: list[Message] = []
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype in _DSN_TYPES:
            dsn.append(part)
        elif ctype in _RETURNED_TYPES:
            returned.append(part)
        elif not part.is_multipart():
            leaves.append(part)
    return leaves, dsn, returned


def payload_text(part: Message) -> str:
    """A leaf part's body as text, transfer-decoded and charset-decoded, never raising."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        raw = raw_payload(part)
        return raw[:MAX_TEXT] if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:
        charset = "utf-8"
    return decode_text(data[:MAX_TEXT], charset)


def part_text(part: Message) -> str:
    """Readable text of a text/* leaf; HTML tags dropped; "" for anything else.

    A multipart whose boundary parameter was lost (folded onto an unindented line, as
    Apache James and some PMDF gateways write it) arrives as one string: its raw text is
    the only account there is."""
    if part.get_content_maintype() == "multipart" and isinstance(raw_payload(part), str):
        return _TAGS.sub(" ", payload_text(part))
    if part.get_content_maintype() != "text":
        return ""
    text = payload_text(part)
    return _TAGS.sub(" ", text) if part.get_content_subtype() == "html" else text


def notification_text(parts: list[Message], texts: list[str] | None = None) -> str:
    """The human-readable notice: text/plain parts (HTML only when there is no plain text).
    texts, when given, is part_text() of each part, already worked out."""
    if texts is None:
        texts = [part_text(p) for p in parts]
    plain = [
        text
        for p, text in zip(parts, texts, strict=True)
        if p.get_content_type() == "text/plain"
        or (p.get_content_maintype() == "multipart" and isinstance(raw_payload(p), str))
    ]
    chosen = plain if any(t.strip() for t in plain) else texts
    return "\n".join(chosen)[:MAX_TEXT]


def dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part: per-message first, then per-recipient."""
    payload = raw_payload(part)
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        # The stdlib parses message/delivery-status into one Message per block.
        for block in payload:
            if isinstance(block, Message):
                fields = {k.lower(): decode(str(v)) for k, v in block.items()}
                if fields:
                    blocks.append(fields)
        if any("final-recipient" in b or "original-recipient" in b for b in blocks):
            return blocks
        # Base64-encoded status parts (seen from some Exchange gateways) parse as junk blocks.
        text = "\n".join(_block_source(b) for b in payload if isinstance(b, Message))
    else:
        # message/global-delivery-status is unknown to the stdlib and stays one string.
        text = payload_text(part)
    return parse_fields(_maybe_base64(part, text))


def _block_source(block: Message) -> str:
    try:
        return block.as_string()
    except Exception:
        return ""


def _maybe_base64(part: Message, text: str) -> str:
    if str(part.get("content-transfer-encoding", "")).strip().lower() != "base64":
        return text
    import base64
    import binascii

    try:
        return base64.b64decode("".join(text.split()), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text


def parse_fields(text: str) -> list[dict[str, str]]:
    """RFC 822-style "Name: value" blocks separated by blank lines, continuation lines joined."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[0] in " \t" and last:
            current[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            current.setdefault(last, value.strip())
    if current:
        blocks.append(current)
    return blocks


def returned_headers(part: Message, parser: HeaderParser) -> list[Message]:
    """Header sets of a returned message, whether attached whole or as headers only."""
    payload = raw_payload(part)
    if isinstance(payload, list):
        return [m for m in payload if isinstance(m, Message)]
    text = payload_text(part) if isinstance(payload, str) else ""
    return [parser.parsestr(text)] if text else []


def feedback_fields(part: Message) -> dict[str, str]:
    """The fields of an ARF message/feedback-report part, lowercased names, first value."""
    payload = raw_payload(part)
    if isinstance(payload, list):
        text = "\n".join(_block_source(b) for b in payload if isinstance(b, Message))
    else:
        text = payload_text(part)
    blocks = parse_fields(_maybe_base64(part, text))
    fields: dict[str, str] = {}
    for block in blocks:
        for name, value in block.items():
            fields.setdefault(name, value)
    return fields


MDN_TYPE: Final = "message/disposition-notification"


def mdn_fields(msg: Message) -> dict[str, str]:
    """The fields of a message disposition notification (RFC 8098) in the message, or {}."""
    for part in _walk(msg):
        if part.get_content_type() == MDN_TYPE:
            return feedback_fields(part)
    return {}


def original_senders(returned: list[Message], texts: list[str]) -> tuple[str, ...]:
    """Envelope senders of the returned message: Return-Path, X-Original-Return-Path and
    Sender of attached copies and header parts (returned: their returned_headers()), else
    Return-Path lines quoted in the text.  Our return path carries a signed token, so this
    ties a bounce to its notice."""
    values: list[str] = []
    for headers in returned:
        for name in _SENDER_HEADERS:
            values.extend(header_all(headers, name))
    if not values:
        for text in texts:
            values.extend(m.group(1) for m in _RETURN_PATH_LINE.finditer(text))
    return addresses(values)
