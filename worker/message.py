"""The MIME message: headers, Message-ID and body parts of one notice."""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate

from .errors import InvalidEvent
from .render import Rendered
from .settings import Settings

#: RFC 5322 line endings and RFC 2047 encoding of non-ASCII header text.
POLICY = email.policy.SMTP.clone(max_line_length=78)


def check_header(name: str, value: str) -> str:
    """Refuse CR, LF and NUL in a header value.

    EmailMessage refuses CR/LF when a value is assigned, but Python before 3.11.10 does not
    re-check folded output (CVE-2024-6923), so every value is checked here too.
    """
    if any(c in value for c in "\r\n\0"):
        raise InvalidEvent(name.lower(), "contains a line break or NUL and cannot go in a header")
    return value


def message_id(notice_id: str, generation: int, settings: Settings) -> str:
    """Stable across retries: a relay (or the reader) can recognise a duplicate by it.

    A replay (a new generation, maybe to a corrected address) gets a new one.
    """
    return f"<{notice_id}.{generation}@{settings.mail_from.domain}>"


def build_message(rendered: Rendered, *, to: str, notice_id: str, generation: int,
                  settings: Settings, date: datetime | None = None) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    sender = settings.mail_from
    display = sender.display_name or settings.brand.product_name
    msg["From"] = Address(display_name=check_header("From", display),
                          username=sender.username, domain=sender.domain)
    local, _, domain = check_header("To", to).rpartition("@")
    msg["To"] = Address(username=local, domain=domain)
    if settings.reply_to:
        msg["Reply-To"] = check_header("Reply-To", settings.reply_to)
    msg["Subject"] = check_header("Subject", rendered.subject)
    msg["Date"] = (format_datetime(date.astimezone(UTC)) if date
                   else formatdate(usegmt=True))
    msg["Message-ID"] = message_id(notice_id, generation, settings)
    # RFC 3834: automatic mail; well-behaved auto-responders do not answer it, and
    # Exchange honours its own X-Auto-Response-Suppress for out-of-office replies.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    msg["X-Notice-ID"] = notice_id
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    # premailer returns the HTML on few, very long lines; quoted-printable keeps every line
    # under the 998-octet limit of RFC 5322 without touching the markup.
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    # Set last: set_content() moves every Content-* header down into the body part.
    msg["Content-Language"] = rendered.lang
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=POLICY)
