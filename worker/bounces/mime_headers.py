"""Decoding for bounces: RFC 2047 headers, mislabelled charsets and address lists, never raising."""

from __future__ import annotations

import re
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses
from typing import Final

_RETURNED_TO_HEADERS: Final = (
    "to",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
)
_SPACE: Final = re.compile(r"\s+")
_ATOM: Final = r"[A-Za-z0-9_+=-]+"
_ADDR: Final = rf"({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
#: One address alone, in angle brackets, or after a display name of plain words.
SIMPLE_ADDRESS: Final = (
    rf"[ \t]*(?:{_ATOM}(?:[ \t]+{_ATOM})*[ \t]*<{_ADDR}>|<{_ADDR}>|{_ADDR})[ \t]*"
)
_SIMPLE_ADDRESS: Final = re.compile(SIMPLE_ADDRESS + r"\Z")


def header(msg: Message, name: str) -> str:
    """One header, RFC 2047 decoded, folded lines joined; "" when absent or undecodable."""
    try:
        raw = msg.get(name)
        return "" if raw is None else decode(str(raw))
    except Exception:
        return ""


def header_all(msg: Message, name: str) -> list[str]:
    """Every value of one header, each decoded as header() does."""
    try:
        return [decode(str(v)) for v in msg.get_all(name) or []]
    except Exception:
        return []


def decode(value: str) -> str:
    """A raw header value as readable text: encoded words decoded, whitespace collapsed."""
    # Without an encoded word, decode_header would hand the value back as it is.
    text = value if "=?" not in value else _decode_words(value)
    # compat32 keeps raw 8-bit header bytes as lone surrogates; make them printable.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _SPACE.sub(" ", text).strip()


def _decode_words(value: str) -> str:
    try:
        chunks = []
        for data, charset in decode_header(value):
            if isinstance(data, bytes):
                chunks.append(data.decode(codec(charset), errors="replace"))
            else:
                chunks.append(data)
        return "".join(chunks)
    except Exception:
        return value


def codec(charset: str | None) -> str:
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
    """The distinct lowercased addresses in address-list header values, in order."""
    out: list[str] = []
    plain = [_SIMPLE_ADDRESS.match(v) for v in values]
    if all(plain):
        # Most values are one bare or bracketed address, or one after a plain name: what
        # getaddresses would make of them, read without its (slow) general parser.
        pairs = [("", next(g for g in m.groups() if g is not None)) for m in plain if m]
    else:
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
    """Who sent the bounce: the From: and Sender: addresses."""
    return addresses(header_all(msg, "from") + header_all(msg, "sender"))


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
    name = codec(charset)
    try:
        return data.decode(name)
    except (UnicodeDecodeError, LookupError):
        pass
    for other in _FALLBACKS.get(name.lower(), ()):
        try:
            return data.decode(other)
        except UnicodeDecodeError:
            continue
    return data.decode(name, errors="replace")
