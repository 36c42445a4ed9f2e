"""Values we sign so that a report about a notice proves it came back from our own mail.

Three places of a sent notice come back in reports, and each carries an HMAC-SHA256 with
``SECRET_KEY``, so that nobody who merely knows or guesses an event id can forge one:

- the envelope sender (Return-Path), ``bounces+<id>.<day>.<sig>@bounce-domain``: every
  bounce and DSN is sent to it;
- the DSN envelope id (ENVID, RFC 3461), ``<id>.<day>.<sig>``: DSNs repeat it as
  ``Original-Envelope-Id``;
- the Message-ID, ``<<id>.<generation>.<day>.<sig>@mail-from-domain>``: complaint reports
  (ARF) and provider webhooks return it where they return no envelope.

Like BATV (draft-levine-smtp-batv), the day of signing is part of each value, so that an
old value can be refused. ``SECRET_KEY_PREVIOUS`` verifies (never signs) values made
before a key rotation, for as long as a report about them can still arrive: the retry
schedule plus a week.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from worker.settings import Settings

_DAY: Final = 86400
#: Reports can still arrive this long after the last retry (bounces of a mail the relay
#: queued for days, late DSNs, complaints).
LATE_REPORT_DAYS: Final = 7
#: A value dated up to this far ahead is accepted (clocks of our own hosts disagree).
CLOCK_SKEW_DAYS: Final = 1
_SIG: Final = r"[0-9a-f]{16}"
_ID: Final = r"[0-9a-f]{20}"
_DAYSTAMP: Final = r"[0-9a-z]{1,6}"
# Everything lower case: some mail servers lower-case the local part of the address they
# return a bounce to, so a mixed-case token would no longer verify.
_TOKEN: Final = re.compile(rf"^(?P<id>{_ID})\.(?P<day>{_DAYSTAMP})\.(?P<sig>{_SIG})$")
_MESSAGE_ID: Final = re.compile(
    rf"^<?(?P<id>{_ID})\.(?P<gen>\d{{1,6}})\.(?P<day>{_DAYSTAMP})\.(?P<sig>{_SIG})@[^<>\s]+?>?$"
)
#: What our Message-IDs looked like before they were signed (still in older records).
UNSIGNED_MESSAGE_ID: Final = re.compile(rf"^<?(?P<id>{_ID})\.\d{{1,6}}@[^<>\s]+?>?$")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _day(now: float | None) -> int:
    return int((time.time() if now is None else now) // _DAY)


def _sign(secret: str, purpose: str, text: str) -> str:
    # The return path signs "<id>.<day>" alone (as it did before ENVID and Message-ID were
    # signed, so that bounces of mail sent before an upgrade still verify); the other
    # values name their purpose, so that no value can stand in for another.
    message = text if purpose == "return-path" else f"{purpose}:{text}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Verified:
    """A value that carried a valid signature: the notice it names, and how old it is."""

    notice_id: str
    age_days: int
    previous_key: bool  #: verified with SECRET_KEY_PREVIOUS


def previous_key_days(settings: Settings) -> int:
    """How long SECRET_KEY_PREVIOUS still verifies: the retry schedule plus a week."""
    return math.ceil(sum(settings.retry_delays) / _DAY) + LATE_REPORT_DAYS


def _keys(settings: Settings, age_days: int) -> Iterator[tuple[str, bool]]:
    if settings.secret_key and age_days <= settings.notice_retention_days:
        yield settings.secret_key, False
    if settings.secret_key_previous and age_days <= previous_key_days(settings):
        yield settings.secret_key_previous, True


def _check(
    settings: Settings,
    purpose: str,
    text: str,
    day: str,
    sig: str,
    notice_id: str,
    now: float | None,
) -> Verified | None:
    age = _day(now) - int(day, 36)
    if age < -CLOCK_SKEW_DAYS:
        return None
    for key, previous in _keys(settings, age):
        if hmac.compare_digest(_sign(key, purpose, text), sig):
            return Verified(notice_id, age, previous)
    return None


# -- the envelope sender -------------------------------------------------------------------
def envelope_sender(notice_id: str, settings: Settings, now: float | None = None) -> str:
    """``bounces+<id>.<day>.<hmac>@bounce-domain``: the address every bounce comes back to."""
    base = settings.envelope_base
    day = _base36(_day(now))
    sig = _sign(settings.require_secret(), "return-path", f"{notice_id}.{day}")
    return f"{base.username}+{notice_id}.{day}.{sig}@{base.domain}"


def verify_return_path(
    address: str, settings: Settings, now: float | None = None
) -> Verified | None:
    """The notice ``address`` names, if it is our bounce address with a valid token."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base = settings.envelope_base
    if domain != base.domain.lower():
        return None
    prefix, plus, token = local.partition("+")
    match = _TOKEN.match(token)
    if not plus or prefix != base.username.lower() or not match:
        return None
    return _check(
        settings,
        "return-path",
        f"{match['id']}.{match['day']}",
        match["day"],
        match["sig"],
        match["id"],
        now,
    )


def verify(address: str, settings: Settings, now: float | None = None) -> str | None:
    """The notice id if ``address`` carries a valid, unexpired token, else None."""
    found = verify_return_path(address, settings, now)
    return found.notice_id if found else None


def token_candidate(address: str, settings: Settings) -> bool:
    """Whether ``address`` is in our bounce domain with a +token (valid or not)."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base = settings.envelope_base
    return domain == base.domain.lower() and local.startswith(base.username.lower() + "+")


# -- the DSN envelope id -------------------------------------------------------------------
def envelope_id(notice_id: str, settings: Settings, now: float | None = None) -> str:
    """``<id>.<day>.<hmac>``: the ENVID a DSN repeats as Original-Envelope-Id."""
    day = _base36(_day(now))
    return f"{notice_id}.{day}.{_sign(settings.require_secret(), 'envid', f'{notice_id}.{day}')}"


def verify_envelope_id(value: str, settings: Settings, now: float | None = None) -> Verified | None:
    match = _TOKEN.match(value.strip().lower())
    if not match:
        return None
    return _check(
        settings,
        "envid",
        f"{match['id']}.{match['day']}",
        match["day"],
        match["sig"],
        match["id"],
        now,
    )


def envelope_id_candidate(value: str) -> bool:
    """Shaped like our signed ENVID (valid or not)."""
    return bool(_TOKEN.match(value.strip().lower()))


# -- what a hosted relay returns ----------------------------------------------------------
#: Postmark reports its own message id; it returns this metadata field of ours instead.
POSTMARK_METADATA: Final = "X-PM-Metadata-notice"


def provider_headers(
    notice_id: str, settings: Settings, now: float | None = None
) -> list[tuple[str, str]]:
    """Headers a hosted relay turns into fields of its webhooks: with SMTP_PROVIDER=postmark,
    the signed ENVID as Postmark metadata ``notice`` (its webhooks do not return our
    Message-ID); nothing for any other relay."""
    if settings.smtp_provider != "postmark" or not settings.secret_key:
        return []
    return [(POSTMARK_METADATA, envelope_id(notice_id, settings, now))]


# -- the Message-ID ------------------------------------------------------------------------
def message_id(
    notice_id: str, generation: int, settings: Settings, now: float | None = None
) -> str:
    """``<<id>.<generation>.<day>.<hmac>@domain>``, made once per generation and kept in
    the record: stable across retries, so that a relay or the reader can spot a duplicate.

    Without SECRET_KEY (template previews only: nothing is sent there) it is unsigned.
    """
    domain = settings.mail_from.domain
    if not settings.secret_key:
        return f"<{notice_id}.{generation}@{domain}>"
    day = _base36(_day(now))
    sig = _sign(settings.secret_key, "message-id", f"{notice_id}.{generation}.{day}")
    return f"<{notice_id}.{generation}.{day}.{sig}@{domain}>"


def verify_message_id(value: str, settings: Settings, now: float | None = None) -> Verified | None:
    match = _MESSAGE_ID.match(value.strip().lower())
    if not match:
        return None
    text = f"{match['id']}.{match['gen']}.{match['day']}"
    return _check(settings, "message-id", text, match["day"], match["sig"], match["id"], now)


def message_id_candidate(value: str) -> bool:
    """Shaped like our signed Message-ID (valid or not)."""
    return bool(_MESSAGE_ID.match(value.strip().lower()))
