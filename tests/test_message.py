"""The MIME message."""

from __future__ import annotations

import email
import email.policy

import pytest

from worker.errors import InvalidEvent
from worker.render.message import build_message, check_header, message_bytes, to_bytes
from worker.render.renderer import Rendered
from worker.settings import Settings


def _rendered(subject: str = "需要您處理：付款失敗") -> Rendered:
    return Rendered(
        locale="zh_TW",
        lang="zh-TW",
        subject=subject,
        text="純文字\n",
        html="<html><body><p>" + "x" * 3000 + "</p></body></html>",
    )


def test_message_headers_are_well_formed(settings: Settings) -> None:
    raw = to_bytes(
        build_message(
            _rendered(),
            to="a@example.com",
            notice_id="0123456789abcdef0123",
            generation=2,
            settings=settings,
        )
    )
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(msg["From"]) == "Billing <billing@example.com>"
    assert msg["Message-ID"] == "<0123456789abcdef0123.2@example.com>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Language"] == "zh-TW"
    assert str(msg["Subject"]) == "需要您處理：付款失敗"
    assert b"=?utf-8?" in raw  # RFC 2047 encoded


@pytest.mark.parametrize("value", ["a\r\nBcc: x@example.com", "a\nb", "a\x00b"])
def test_message_header_injection_is_refused(value: str) -> None:
    with pytest.raises(InvalidEvent):
        check_header("Subject", value)


def test_message_subject_with_crlf_is_refused(settings: Settings) -> None:
    with pytest.raises(InvalidEvent):
        build_message(
            _rendered("x\r\nBcc: evil@example.com"),
            to="a@example.com",
            notice_id="n",
            generation=0,
            settings=settings,
        )


def test_message_bytes_parse_back_without_defects_to_the_rendered_parts(settings: Settings) -> None:
    from email.headerregistry import Address

    from worker.render.message import message_bytes

    subject = "需要您處理：我們無法向您的信用卡收取 Example Cloud Platform 的費用"
    rendered = Rendered(
        locale="zh_TW",
        lang="zh-TW",
        subject=subject,
        text="第一行 = 等號\n\ntrailing space \nend\n",
        html="<html><body><p>" + "王小明 & co. " * 400 + "</p></body></html>",
    )
    sender = Address(display_name="帳務中心", username="billing", domain="example.com")
    raw = message_bytes(
        rendered,
        to="a@example.com",
        notice_id="0123456789abcdef0123",
        generation=0,
        settings=settings.with_(mail_from=sender),
    )
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert all(not part.defects for part in msg.walk())
    assert str(msg["Subject"]) == rendered.subject
    assert str(msg["From"]) == "帳務中心 <billing@example.com>"
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == rendered.text
    assert html.get_content().replace("\r\n", "\n") == rendered.html


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-PM-Metadata-notice", "t\r\nBcc: evil@example.com"), ("X-Bad Name", "v"), ("X:Y", "v")],
)
def test_message_extra_header_injection_is_refused(
    settings: Settings, name: str, value: str
) -> None:
    with pytest.raises(InvalidEvent):
        message_bytes(
            _rendered(),
            to="a@example.com",
            notice_id="n",
            generation=0,
            settings=settings,
            extra_headers=[(name, value)],
        )


def test_message_extra_headers_are_written(settings: Settings) -> None:
    raw = message_bytes(
        _rendered(),
        to="a@example.com",
        notice_id="n",
        generation=0,
        settings=settings,
        extra_headers=[("X-PM-Metadata-notice", "abc.def.0123")],
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["X-PM-Metadata-notice"] == "abc.def.0123"
