"""Tests for the header readers' shortcuts: each must read exactly what the stdlib reads."""

from __future__ import annotations

import re
from email.header import decode_header
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.bounces import mime
from worker.bounces.mime_headers import SIMPLE_ADDRESS, addresses, decode
from worker.bounces.mime_message import IndexedMessage

DATA = Path(__file__).resolve().parent / "data" / "bounces"
ADDRESS_HEADERS = ("from", "sender", "to", "cc", "delivered-to", "x-original-to", "return-path")


def _stdlib(values: list[str]) -> tuple[str, ...]:
    """addresses() as it reads without its shortcut."""
    out: list[str] = []
    for _name, addr in getaddresses(values):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and addr not in out:
            out.append(addr)
    return tuple(out)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        ["alice@example.net"],
        ["<Alice@Example.NET>"],
        ["Mail Delivery System <MAILER-DAEMON@mx.example.net>"],
        ["a@example.net", "b@example.net, c@example.net"],
        ['"Neko, Nyaan" <neko@example.org>'],
        ["MAILER-DAEMON <>"],
        ["userx@example.com (Aahz Maruch)"],
        ["bounces+0123.k3x9@bounce.example.com", "Bounces <BOUNCES+0123.k3x9@bounce.example.com>"],
    ],
)
def test_addresses_reads_what_getaddresses_reads(values: list[str]) -> None:
    assert addresses(values) == _stdlib(values)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.from_regex(re.compile(SIMPLE_ADDRESS), fullmatch=True), max_size=3))
def test_addresses_shortcut_agrees_with_getaddresses(values: list[str]) -> None:
    assert addresses(values) == _stdlib(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet='ab@.<>" ,()-_+=:;\\[]', max_size=30), max_size=3))
def test_addresses_agrees_with_getaddresses_on_odd_values(values: list[str]) -> None:
    assert addresses(values) == _stdlib(values)


def test_addresses_agree_with_getaddresses_on_every_corpus_header() -> None:
    checked = 0
    for path in sorted(DATA.rglob("*")):
        if path.suffix in (".eml", ".txt"):
            msg = BytesParser(policy=compat32).parsebytes(path.read_bytes())
            for name in ADDRESS_HEADERS:
                values = mime.header_all(msg, name)
                assert addresses(values) == _stdlib(values), (path.name, values)
                checked += bool(values)
    assert checked > 500


@given(st.text(max_size=60).filter(lambda v: "=?" not in v))
def test_decode_without_encoded_words_reads_what_decode_header_reads(value: str) -> None:
    text = "".join(
        data.decode("utf-8") if isinstance(data, bytes) else data
        for data, _charset in decode_header(value)
    )
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    assert decode(value) == re.sub(r"\s+", " ", text).strip()


def _shown(values: list[Any] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def test_indexed_message_reads_every_header_as_message_does() -> None:
    for path in sorted(DATA.rglob("*")):
        if path.suffix in (".eml", ".txt"):
            data = path.read_bytes()
            plain = BytesParser(policy=compat32).parsebytes(data)
            indexed = BytesParser(IndexedMessage, policy=compat32).parsebytes(data)
            for a, b in zip(plain.walk(), indexed.walk(), strict=True):
                assert isinstance(b, IndexedMessage)
                for name in {k.lower() for k in a} | {"nope", "CONTENT-TYPE"}:
                    assert _shown(a.get_all(name)) == _shown(b.get_all(name)), (path.name, name)
                    assert str(a.get(name, "-")) == str(b.get(name, "-")), (path.name, name)


def test_indexed_message_follows_changes_to_its_headers() -> None:
    msg = BytesParser(IndexedMessage, policy=compat32).parsebytes(
        b"Subject: one\nTo: a@example.net\nTo: b@example.net\n\nbody\n"
    )
    assert msg.get_all("to") == ["a@example.net", "b@example.net"]
    msg["To"] = "c@example.net"
    assert msg.get_all("TO") == ["a@example.net", "b@example.net", "c@example.net"]
    msg.replace_header("subject", "two")
    assert msg.get("subject") == "two"
    del msg["to"]
    assert msg.get_all("to") is None
    assert msg.get("to", "none") == "none"
    msg.add_header("X-New", "yes")
    assert msg["x-new"] == "yes"
