"""What the relay's replies mean: transient, permanent, refused, or our own misconfiguration."""

from __future__ import annotations

import asyncio
import enum
import re
import ssl
from dataclasses import dataclass
from typing import Final

import aiosmtplib

from worker.errors import (
    ConfigurationError,
    PermanentError,
    RecipientRefused,
    SMTPTimeout,
    SMTPUnavailable,
    Throttled,
    TransientError,
)


class ReplyClass(enum.StrEnum):
    """RFC 5321 §4.2.1: the first digit of a reply code says what to do next."""

    SUCCESS = "2xx"  #: accepted
    TRANSIENT = "4xx"  #: try again later
    PERMANENT = "5xx"  #: do not try again as is
    NONE = "none"  #: no reply: the connection failed or timed out

    @classmethod
    def of(cls, code: int | None) -> ReplyClass:
        return {2: cls.SUCCESS, 4: cls.TRANSIENT, 5: cls.PERMANENT}.get(
            (code or 0) // 100, cls.NONE
        )


@dataclass(frozen=True)
class Accepted:
    """The relay took the mail (250 after DATA)."""

    code: int
    message: str
    dsn: bool  #: whether DSN options (RFC 3461) were sent


#: Enhanced codes that say "too fast" rather than "not now" (only ever with a 4xx reply):
#: Gmail's 4.7.28 (an unusual rate of mail from us), Outlook.com's 4.7.650-4.7.652 (our
#: IP or range is throttled), and the congestion family 4.4.5.
THROTTLE_CODES: Final = frozenset({"4.7.28", "4.7.650", "4.7.651", "4.7.652", "4.4.5"})
#: Wordings of rate and volume limits that come with a vague code (4.7.0, 4.7.1, none):
#: Yahoo's "[TSS04] ... temporarily deferred due to unexpected volume", Postfix's and
#: Exchange's "too many messages/connections", and every "rate limit"/"throttled".
_THROTTLE_TEXT: Final = re.compile(
    r"rate limit|ratelimit|too many (messages|connections|mails|recipients|sessions)"
    r"|throttl|unusual rate|sending rate|deferred due to (unexpected )?volume|\[ts0\d\]"
    r"|try again later.{0,40}(volume|rate)|exceeded .{0,30}(rate|limit)",
    re.IGNORECASE,
)
_ENHANCED: Final = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def is_throttle(code: int, text: str) -> bool:
    """Whether a 4xx reply asks us to slow down (see THROTTLE_CODES, _THROTTLE_TEXT)."""
    if ReplyClass.of(code) is not ReplyClass.TRANSIENT:
        return False
    enhanced = _ENHANCED.findall(text)
    return any(c in THROTTLE_CODES for c in enhanced) or bool(_THROTTLE_TEXT.search(text))


def classify(exc: BaseException, phase: str) -> Exception:
    """Turn what aiosmtplib raised during ``phase`` into our error tree.

    Reply codes decide (4xx transient, 5xx permanent); only a 5xx at RCPT says the
    recipient bounced. Without a reply, a failure during DATA leaves the outcome unknown.
    """
    in_data = phase == "data"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ConfigurationError(f"SMTP authentication refused: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, text = exc.code, f"{exc.code} {exc.message}".strip()
        where = f"at {phase.upper()}: {text}"
        if ReplyClass.of(code) is ReplyClass.PERMANENT:
            if phase == "rcpt":
                return RecipientRefused(f"recipient refused {where}", code=code)
            return PermanentError(f"refused {where}", code=code)
        if is_throttle(code, text):
            return Throttled(f"throttled {where}", code=code)
        return TransientError(f"deferred {where}", code=code)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SMTPTimeout(f"timed out during {phase}", unknown_outcome=in_data)
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Not transient in spirit, but the notice is not at fault: keep it deferred while an
        # operator fixes the relay's certificate or SMTP_CA_FILE.
        return TransientError(f"TLS certificate not trusted: {exc.verify_message}")
    if isinstance(exc, (ConnectionError, OSError, aiosmtplib.SMTPException)):
        return SMTPUnavailable(f"connection failed during {phase}: {exc}", unknown_outcome=in_data)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))
