"""Per-notice envelope senders (Return-Path) carrying a token nobody else can forge."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from worker.settings import Settings

_DAY = 86400
# Everything lower case: some mail servers lower-case the local part of the address they
# return a bounce to, so a mixed-case token would no longer verify.
_TOKEN = re.compile(r"^(?P<id>[0-9a-f]{20})\.(?P<day>[0-9a-z]{1,6})\.(?P<sig>[0-9a-f]{16})$")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _sign(secret: str, notice_id: str, day: str) -> str:
    mac = hmac.new(secret.encode(), f"{notice_id}.{day}".encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def envelope_sender(notice_id: str, settings: Settings, now: float | None = None) -> str:
    """``bounces+<id>.<day>.<hmac>@bounce-domain``: the address every bounce comes back to.

    Like BATV (draft-levine-smtp-batv), the day of sending is signed with the id, so that a
    token can be refused once it is older than any real bounce could be.
    """
    base = settings.envelope_base
    day = _base36(int((time.time() if now is None else now) // _DAY))
    token = f"{notice_id}.{day}.{_sign(settings.require_secret(), notice_id, day)}"
    return f"{base.username}+{token}@{base.domain}"


def verify(address: str, settings: Settings, now: float | None = None) -> str | None:
    """Return the notice id if ``address`` carries a valid, unexpired token, else None."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base = settings.envelope_base
    if domain != base.domain.lower() or not settings.secret_key:
        return None
    prefix, plus, token = local.partition("+")
    if not plus or prefix != base.username.lower():
        return None
    match = _TOKEN.match(token)
    if not match:
        return None
    expected = _sign(settings.secret_key, match["id"], match["day"])
    if not hmac.compare_digest(expected, match["sig"]):
        return None
    age_days = int((time.time() if now is None else now) // _DAY) - int(match["day"], 36)
    if not 0 <= age_days <= settings.notice_retention_days:
        return None
    return match["id"]


def token_candidate(address: str, settings: Settings) -> bool:
    """Whether ``address`` is in our bounce domain with a +token (valid or not)."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base = settings.envelope_base
    return domain == base.domain.lower() and local.startswith(base.username.lower() + "+")
