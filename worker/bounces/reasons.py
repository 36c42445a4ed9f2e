"""Classify one recipient's failure from status code, SMTP reply and diagnostic text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from worker.bounces import mta
from worker.bounces.mta.base import verdict
from worker.bounces.reasons_codes import (
    ANY,
    BY_COMMAND,
    SMTP_AUTHORITATIVE,
    SMTP_FALLBACK,
    SMTP_RE,
    STATUS_RE,
    enhanced_codes,
    is_precise,
    status_reason,
)
from worker.bounces.reasons_match import match_text, normalize, phrase_reason
from worker.bounces.reasons_vocab import (
    HARD_REASONS,
    MAILBOX_SOFT,
    SENDER_SIDE,
    SUCCESS_ACTIONS,
    Kind,
    Reason,
    kind_for,
)

__all__ = [
    "HARD_REASONS",
    "MAILBOX_SOFT",
    "SENDER_SIDE",
    "SMTP_RE",
    "STATUS_RE",
    "Kind",
    "Reason",
    "classify",
    "enhanced_codes",
    "host_reason",
    "kind_for",
    "match_text",
    "normalize",
]

R = Reason

_HOST_IN_TEXT: Final = re.compile(
    r"\b(?:host|from|by|at)\s+\[?([a-z0-9][\w.-]*\.[a-z]{2,})", re.IGNORECASE
)


def host_reason(
    host: str | None, text: str | None, status: str | None = None, domain: str | None = None
) -> Reason | None:
    """The receiving provider's own verdict: its documented reply wording, when the host that
    answered (or the one the text names, or else the recipient's domain) is a provider with
    a table."""
    if not text:
        return None
    # "mx.example.net (TCP|192.0.2.1|25) (banner)": the name is the first word.
    names = [
        n.split()[0].strip(" .[]").lower()
        for n in (host, *_HOST_IN_TEXT.findall(text[:600]))
        if n and n.split()
    ]
    if not names and domain:
        names = [domain.lower()]
    for provider in mta.HOSTS:
        if any(provider.hosts.search(n) for n in names) or (
            provider.name == "google" and "gsmtp" in text
        ):
            # The status of record leads the text: some providers' tables key on it.
            found = verdict(provider.replies, f"{status or ''} {text}")
            if found is not None:
                return Reason(found)
    return None


def classify(
    status: str | None,
    smtp_code: int | None,
    diagnostic: str | None,
    action: str | None = None,
    *,
    command: str | None = None,
    host: str | None = None,
    told: str | Callable[[], str | None] | None = None,
    diagnostic_type: str | None = None,
    domain: str | None = None,
) -> Reason:
    """Classify one recipient's failure from the best evidence there is: the receiving
    provider's own wording, the mail system's own verdict (told; a function is asked only
    when it matters), the enhanced status code, then the phrase tables, then the SMTP reply
    code and what the report leaves implied."""
    if action is not None and action.strip().lower() in SUCCESS_ACTIONS:
        return R.DELIVERED
    codes = [c for c in enhanced_codes(status) + enhanced_codes(diagnostic) if c[0] in "245"]
    if codes and codes[0][0] == "2":
        return R.DELIVERED
    text, strong = phrase_reason(diagnostic)
    found = host_reason(host, diagnostic, codes[0] if codes else None, domain)
    if found is not None:
        # Carriers that answer "unknown user" to filtered senders still mean it at RCPT.
        return R.USERUNKNOWN if text is R.USERUNKNOWN and command == "RCPT" else found
    if callable(told):
        told = told()
    if told is not None:
        return Reason(told)
    if (diagnostic_type or "").lower() in ("x-unix", "x-postfix") and text in (None, R.ONHOLD):
        return R.MAILERERROR
    if text is not None and not strong and any(is_precise(c) for c in codes):
        text = None  # "rejected" alone says less than a precise status code
    reason = _decide(codes, text, command, smtp_code, action, diagnostic)
    # A delay report that ends on a network or system condition is the retry clock running
    # out, as far as the sender can tell.
    if (action or "").strip().lower() == "delayed" and reason in _DELAY_IS_EXPIRY:
        return R.EXPIRED
    return reason


_DELAY_IS_EXPIRY: Final = frozenset(
    {R.NETWORKERROR, R.SYSTEMERROR, R.UNDEFINED, R.ONHOLD, R.HOSTUNKNOWN}
)


def _decide(
    codes: list[str],
    text: Reason | None,
    command: str | None,
    smtp_code: int | None,
    action: str | None,
    diagnostic: str | None,
) -> Reason:
    precise = next((c for c in codes if is_precise(c)), None)
    if precise is not None:
        base, overrides = status_reason(precise)
        if text is not None and text in overrides:
            # An addressing or mailbox code (x.1.x, x.2.1) vouches for an unknown user.
            vouched = precise.split(".")[1] == "1" or precise[2:] == "2.1"
            return _by_stage(text, command, from_code=vouched, diagnostic=diagnostic)
        if overrides is not ANY or text is None:
            return _by_stage(base, command, from_code=True)
    if text is not None:
        return _by_stage(text, command, from_code=False, diagnostic=diagnostic)
    return _fallback(codes, smtp_code, command, action, diagnostic)


# Wordings that can only come from a directory lookup of the recipient: they name a
# missing address whatever SMTP stage they answered (Exchange's RESOLVER tokens, Gmail's
# and Yahoo's sentences, Hotmail's "mailbox unavailable (n:n:n)", qmail/sendmail "here").
_DIRECTORY_VERDICT: Final = re.compile(
    r"resolver\.adr\.|recip(?:ient)?notfound|account that you tried to reach does not exist|"
    r"doesn'?t have an? \S+ account|"
    # Hotmail's RCPT answer carries its lookup triple; the bare RFC 5321 text does not.
    r"requested action not taken: mailbox unavailable \(-?\d+:\d+:-?\d+\)|"
    r"recipient address rejected: (?:access denied|user unknown in)|"
    r"not listed in (?:the )?(?:domino directory|public name)|"
    r"user unknown in (?:local|virtual) ",
    re.IGNORECASE,
)


_VAGUE_AT_CONNECT: Final = frozenset(
    {R.REJECTED, R.FILTERED, R.USERUNKNOWN, R.HOSTUNKNOWN, R.ONHOLD, R.UNDEFINED}
)


def _by_stage(
    reason: Reason, command: str | None, *, from_code: bool, diagnostic: str | None = None
) -> Reason:
    """An "unknown user" that did not answer RCPT (it answered DATA, or the report does not
    say) is a content or sender filter speaking, unless a 5.1.x code or a directory-lookup
    wording vouches for it."""
    if command == "MAIL" and reason in (R.USERUNKNOWN, R.HOSTUNKNOWN, R.HASMOVED):
        return R.REJECTED  # a refusal of MAIL FROM is about our sender, never the recipient
    if command == "CONN" and reason in _VAGUE_AT_CONNECT:
        return R.BLOCKED  # refused before any address was given: our host or IP
    if reason is R.USERUNKNOWN and diagnostic and _DIRECTORY_VERDICT.search(diagnostic):
        return reason
    if reason is R.USERUNKNOWN and not from_code and command != "RCPT":
        return R.FILTERED
    return reason


def _fallback(
    codes: list[str],
    smtp_code: int | None,
    command: str | None,
    action: str | None,
    diagnostic: str | None,
) -> Reason:
    if smtp_code is None and diagnostic:
        found = SMTP_RE.search(diagnostic.strip()[:8])
        smtp_code = int(found.group(1)) if found else None
    if smtp_code is not None:
        if 200 <= smtp_code < 300:
            return R.DELIVERED
        if smtp_code in SMTP_AUTHORITATIVE:
            return SMTP_AUTHORITATIVE[smtp_code]
    if command in BY_COMMAND:
        return BY_COMMAND[command]
    for code in codes:
        base, _overrides = status_reason(code)
        if base is not R.UNDEFINED and not code.endswith(".0.0"):
            return base
    if (action or "").strip().lower() == "delayed":
        return R.EXPIRED
    if smtp_code is not None and smtp_code in SMTP_FALLBACK:
        return SMTP_FALLBACK[smtp_code]
    return R.ONHOLD if diagnostic and diagnostic.strip() else R.UNDEFINED
