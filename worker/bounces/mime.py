"""Defensive MIME helpers for bounces: safe headers, part walking, text, and bounce sniffing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.header import decode_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from typing import Final

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
_RETURNED_TO_HEADERS: Final = (
    "to",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
)

# What a bounce looks like from the outside.  Local parts of daemon senders:
_DAEMON: Final = re.compile(
    r"^(mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|mdaemon|mail[-_.]?delivery"
    r"|microsoftexchange[0-9a-f]{0,40})@",
    re.IGNORECASE,
)
_DAEMON_NAME: Final = re.compile(
    r"mail delivery (system|subsystem|service)|mailer.?daemon", re.IGNORECASE
)
# Subjects MTAs put on failure notices, in the languages our customers' servers speak.
_BOUNCE_SUBJECTS: Final = re.compile(
    "|".join(
        (
            r"undeliver(able|ed)",
            r"delivery status notification",
            r"mail delivery fail",
            r"delivery fail",
            r"failure notice",
            r"returned mail",
            r"returned to sender",
            r"could not be delivered",
            r"non[- ]?delivery",
            r"delivery has failed",
            r"message status - undeliverable",
            r"delivery problem",
            r"delivery report",
            r"delivery (?:status )?warning",
            r"delayed mail",
            r"warning: could not send",
            r"delivery (?:has been |is )?delayed",
            r"unzustellbar",
            r"non remis",
            r"non recapitabile",
            r"no se pudo entregar",
            r"onbestelbaar",
            r"無法傳遞",
            r"无法投递",
            r"未送達",
            r"退信",
            r"退回",
            r"投递失败",
            r"傳遞失敗",
            r"配信不能",
            r"配信エラー",
            r"전송 실패",
        )
    ),
    re.IGNORECASE,
)
# Replies a human (or their vacation robot) sent: never bounces, however they are worded.
_AUTO_REPLY_SUBJECTS: Final = re.compile(
    "|".join(
        (
            r"out of (the )?office",
            r"automatic reply",
            r"auto(matic)?[- ]?(reply|response)",
            r"^auto:",
            r"vacation",
            r"abwesenheit",
            r"r[ée]ponse automatique",
            r"absence",
            r"respuesta autom[áa]tica",
            r"自動回覆",
            r"自动回复",
            r"自動応答",
            r"不在",
            r"please confirm",
            r"confirm your (message|email)",
            r"verification required",
        )
    ),
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS: Final = (
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-boxbe-challenge",
    "x-tmda-confirm",
)
_REPLY_PREFIX: Final = re.compile(
    r"^\s*(re|fwd?|aw|wg|tr|sv|回覆|转发|轉寄)\s*[:：]", re.IGNORECASE
)
# Read receipts are reports too, but about a person reading: never bounces.  Complaints
# (feedback-report) are parsed by parse.py before this gate is asked.
_OTHER_REPORTS: Final = frozenset({"feedback-report", "disposition-notification"})
_SENDER_HEADERS: Final = ("return-path", "x-original-return-path", "sender")
_RETURN_PATH_LINE: Final = re.compile(
    r"^[ \t>]*(?:x-original-)?return-path:[ \t]*<?([^<>\s]+@[^<>\s]+)>?", re.I | re.M
)
_TAGS: Final = re.compile(r"<[^>]{0,2000}>")


def header(msg: Message, name: str) -> str:
    """One header, RFC 2047 decoded, folded lines joined; "" when absent or undecodable."""
    try:
        raw = msg.get(name)
        return "" if raw is None else _decode(str(raw))
    except Exception:
        return ""


def header_all(msg: Message, name: str) -> list[str]:
    try:
        return [_decode(str(v)) for v in msg.get_all(name) or []]
    except Exception:
        return []


def _decode(value: str) -> str:
    try:
        chunks = []
        for data, charset in decode_header(value):
            if isinstance(data, bytes):
                chunks.append(data.decode(_codec(charset), errors="replace"))
            else:
                chunks.append(data)
        text = "".join(chunks)
    except Exception:
        text = value
    # compat32 keeps raw 8-bit header bytes as lone surrogates; make them printable.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"\s+", " ", text).strip()


def _codec(charset: str | None) -> str:
    """A codec Python knows for a declared charset (servers declare nonsense)."""
    name = (charset or "utf-8").strip().lower()
    if name in ("unknown-8bit", "x-unknown", "8bit", ""):
        return "utf-8"
    # gb2312 labels routinely carry GBK/GB18030 bytes, big5 carries cp950 (HKSCS) extensions.
    name = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "cp950", "x-big5": "cp950"}.get(
        name, name
    )
    try:
        "".encode(name)
    except (LookupError, ValueError):
        return "utf-8"
    return name


def addresses(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    try:
        pairs = getaddresses(values)
    except Exception:
        return ()
    for _name, addr in pairs:
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and addr not in out:
            out.append(addr)
    return tuple(out)


def returned_to(msg: Message) -> tuple[str, ...]:
    """Where the bounce was delivered: the lead looks for a signed return-path token here."""
    values: list[str] = []
    for name in _RETURNED_TO_HEADERS:
        values.extend(header_all(msg, name))
    return addresses(values)


def sender_addresses(msg: Message) -> tuple[str, ...]:
    return addresses(header_all(msg, "from") + header_all(msg, "sender"))


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
    stop = _RETURNED_TYPES | _DSN_TYPES | {FEEDBACK_TYPE}
    if depth >= MAX_DEPTH or part.get_content_type() in stop:
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


# Japanese servers label EUC-JP or Shift_JIS bytes as ISO-2022-JP (a 7-bit code); Chinese
# ones label GBK as ASCII.  When the declared codec refuses the bytes, these are tried.
_FALLBACKS: Final = {
    "iso2022_jp": ("euc_jp", "cp932"),
    "iso-2022-jp": ("euc_jp", "cp932"),
    "euc_jp": ("cp932",),
    "euc-jp": ("cp932",),
    "shift_jis": ("cp932", "euc_jp"),
    "us-ascii": ("utf-8",),
    "ascii": ("utf-8",),
}


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes as text in the declared charset, or in the one a mislabelled part really uses."""
    codec = _codec(charset)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        pass
    for other in _FALLBACKS.get(codec.lower(), ()):
        try:
            return data.decode(other)
        except UnicodeDecodeError:
            continue
    return data.decode(codec, errors="replace")


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


def notification_text(parts: list[Message]) -> str:
    """The human-readable notice: text/plain parts (HTML only when there is no plain text)."""
    plain = [
        part_text(p)
        for p in parts
        if p.get_content_type() == "text/plain"
        or (p.get_content_maintype() == "multipart" and isinstance(raw_payload(p), str))
    ]
    chosen = plain if any(t.strip() for t in plain) else [part_text(p) for p in parts]
    return "\n".join(chosen)[:MAX_TEXT]


def dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part: per-message first, then per-recipient."""
    payload = raw_payload(part)
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        # The stdlib parses message/delivery-status into one Message per block.
        for block in payload:
            if isinstance(block, Message):
                fields = {k.lower(): _decode(str(v)) for k, v in block.items()}
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


def original_senders(
    returned: list[Message], texts: list[str], parser: HeaderParser
) -> tuple[str, ...]:
    """Envelope senders of the returned message: Return-Path, X-Original-Return-Path and
    Sender of attached copies and header parts, else Return-Path lines quoted in the text.
    Our return path carries a signed token, so this ties a bounce to its notice."""
    values: list[str] = []
    for part in returned:
        for headers in returned_headers(part, parser):
            for name in _SENDER_HEADERS:
                values.extend(header_all(headers, name))
    if not values:
        for text in texts:
            values.extend(m.group(1) for m in _RETURN_PATH_LINE.finditer(text))
    return addresses(values)


def is_auto_reply(msg: Message) -> bool:
    if header(msg, "auto-submitted").lower().startswith("auto-replied"):
        return True
    if any(msg.get(name) is not None for name in _AUTO_REPLY_HEADERS):
        return True
    if header(msg, "precedence").lower() in ("auto_reply", "auto-reply"):
        return True
    return bool(_AUTO_REPLY_SUBJECTS.search(header(msg, "subject")))


def is_daemon(msg: Message) -> bool:
    """Sent by a mail system rather than a person: the strongest outside sign of a bounce."""
    if msg.get("x-failed-recipients") is not None:
        return True
    senders = header_all(msg, "from") + header_all(msg, "sender")
    if any(_DAEMON.match(a) for a in addresses(senders)):
        return True
    return any(_DAEMON_NAME.search(s) for s in header_all(msg, "from"))


def report_type(msg: Message) -> str:
    """The report-type of a multipart/report ("delivery-status", "feedback-report"), or ""."""
    if msg.get_content_type() != "multipart/report":
        return ""
    try:
        return str(msg.get_param("report-type", "", header="content-type") or "").lower()
    except Exception:
        return ""


def looks_like_bounce(msg: Message) -> bool:
    """Gate for the heuristic detectors, which otherwise fire on ordinary prose.

    Exim and Postfix mark real bounces Auto-Submitted: auto-replied too, so an auto-reply
    marker only disqualifies a message that a mail system did not send.  A null Return-Path
    alone is weaker: RFC 3834 asks vacation responders to use one as well."""
    if report_type(msg) in _OTHER_REPORTS:
        return False  # an ARF spam complaint or a read receipt: other handlers' business
    daemon = is_daemon(msg)
    if not daemon and is_auto_reply(msg):
        return False
    subject = header(msg, "subject")
    null_sender = header(msg, "return-path").replace(" ", "") == "<>"
    return (
        daemon or bounce_subject(subject) or null_sender or (report_type(msg) == "delivery-status")
    )


def bounce_subject(subject: str) -> bool:
    """A failure notice's subject.  Behind a reply prefix, only when the failure words
    follow the original subject ("RE: <subject> : non remis (delivery failed)", as some
    gateways write it): a person answering a bounce leaves them first ("RE: Undeliverable:")."""
    found = _BOUNCE_SUBJECTS.search(subject)
    if found is None:
        return False
    rest = subject
    while (prefix := _REPLY_PREFIX.match(rest)) is not None:
        rest = rest[prefix.end() :]
    if rest is subject:
        return True
    first = _BOUNCE_SUBJECTS.search(rest)
    return first is not None and len(rest[: first.start()].strip(" :-([")) >= 8
