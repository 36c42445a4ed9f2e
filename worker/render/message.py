"""The MIME message: headers, Message-ID and body parts of one notice."""

from __future__ import annotations

import binascii
import email
import email.policy
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, formatdate

from worker.errors import InvalidEvent
from worker.render.renderer import Rendered
from worker.settings import Settings

#: RFC 5322 line endings and RFC 2047 encoding of non-ASCII header text.
POLICY = email.policy.SMTP.clone(max_line_length=78)
CRLF = "\r\n"


def check_header(name: str, value: str) -> str:
    """Refuse CR, LF and NUL in a header value.

    EmailMessage refuses CR/LF when a value is assigned, but Python before 3.11.10 does not
    re-check folded output (CVE-2024-6923), so every value is checked here too.
    """
    if any(c in value for c in "\r\n\0"):
        raise InvalidEvent(name.lower(), "contains a line break or NUL and cannot go in a header")
    return value


#: A Message-ID is one "<...@...>" of printable ASCII without spaces.
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]{1,250}@[!-;=?-~]{1,250}>$")


def _message_id(given: str | None, notice_id: str, generation: int, settings: Settings) -> str:
    if given is None:
        return f"<{notice_id}.{generation}@{settings.mail_from.domain}>"
    if not _MESSAGE_ID.match(given):
        raise InvalidEvent("message_id", "is not a single <local@domain> Message-ID")
    return given


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")


def _header_name(name: str) -> str:
    if not _HEADER_NAME.match(name):
        raise InvalidEvent("header", f"{name!r} is not a header name")
    return name


def _encoded(name: str, value: str) -> str:
    """``Name: value``, RFC 2047-encoded when not ASCII, folded under 78 columns."""
    charset = None if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep=CRLF)


def _part(subtype: str, body: str) -> str:
    # binascii's quoted-printable encoder is C code: the email package's own encoder
    # and generator cost more than rendering the notice. QP keeps every line under 76
    # octets, as RFC 2045 asks, whatever premailer's long HTML lines hold.
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
        + encoded.replace("\n", CRLF)
        + CRLF
    )


def message_bytes(
    rendered: Rendered,
    *,
    to: str,
    notice_id: str,
    generation: int,
    settings: Settings,
    date: datetime | None = None,
    message_id: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The notice as sent: multipart/alternative, a text part and an HTML part.

    ``message_id`` is the one the notice's record keeps (signed, see worker.smtp.proof);
    without it (a preview of an unsaved event) an unsigned one is made up.
    ``extra_headers`` are ASCII headers a relay reads (Postmark's metadata), checked too.

    Assembled from the standard library's encoders (RFC 2047 headers with email.header,
    quoted-printable with binascii); ``build_message`` parses it back when an
    EmailMessage is wanted, and the tests check both agree.
    """
    # The From name as the reader's locale gives it (MAIL_FROM_NAME_ZH_TW in a zh-TW notice).
    local = settings.for_locale(rendered.locale)
    sender = local.mail_from
    display = check_header("From", sender.display_name or local.brand.product_name)
    check_header("To", to)
    if "@" not in to or any(c in to for c in ' <>,;"()'):
        raise InvalidEvent("to", "is not a single address")
    lines = [
        "From: " + formataddr((display, sender.addr_spec), charset="utf-8"),
        f"To: {to}",
    ]
    if settings.reply_to:
        lines.append(f"Reply-To: {check_header('Reply-To', settings.reply_to)}")
    lines += [
        _encoded("Subject", check_header("Subject", rendered.subject)),
        "Date: " + (format_datetime(date.astimezone(UTC)) if date else formatdate(usegmt=True)),
        f"Message-ID: {_message_id(message_id, notice_id, generation, settings)}",
        f"Content-Language: {rendered.lang}",
        # RFC 3834: automatic mail; well-behaved auto-responders do not answer it, and
        # Exchange honours its own X-Auto-Response-Suppress for out-of-office replies.
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: OOF, AutoReply",
        f"X-Notice-ID: {notice_id}",
        *(f"{_header_name(n)}: {check_header(n, value)}" for n, value in extra_headers),
        "MIME-Version: 1.0",
    ]
    # "=_" cannot occur in quoted-printable text (it would be written "=3D_"), so the
    # boundary can never collide with a line of either part.
    boundary = "=_" + secrets.token_hex(16)
    lines.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"')
    text = (
        CRLF.join(lines)
        + CRLF
        + CRLF
        + f"--{boundary}{CRLF}"
        + _part("plain", rendered.text)
        + f"--{boundary}{CRLF}"
        + _part("html", rendered.html)
        + f"--{boundary}--{CRLF}"
    )
    return text.encode("ascii")


def build_message(
    rendered: Rendered,
    *,
    to: str,
    notice_id: str,
    generation: int,
    settings: Settings,
    date: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """The notice as an EmailMessage (for previews and tests); see message_bytes."""
    raw = message_bytes(
        rendered,
        to=to,
        notice_id=notice_id,
        generation=generation,
        settings=settings,
        date=date,
        message_id=message_id,
    )
    msg = email.message_from_bytes(raw, policy=POLICY)
    assert isinstance(msg, EmailMessage)
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=POLICY)
