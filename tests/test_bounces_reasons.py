"""Tests for the bounce reason taxonomy, status/SMTP/text classification and kinds."""

from __future__ import annotations

import pytest

from worker.bounces.phrases import PHRASES
from worker.bounces.reasons import (
    HARD_REASONS,
    MAILBOX_SOFT,
    SENDER_SIDE,
    Kind,
    Reason,
    classify,
    enhanced_codes,
    kind_for,
    match_text,
    normalize,
)


def test_reason_values_are_exactly_the_taxonomy() -> None:
    assert {r.value for r in Reason} == {
        "userunknown",
        "hostunknown",
        "hasmoved",
        "notaccept",
        "mailboxfull",
        "suspend",
        "filtered",
        "rejected",
        "blocked",
        "policyviolation",
        "spamdetected",
        "virusdetected",
        "authfailure",
        "badreputation",
        "norelaying",
        "mesgtoobig",
        "contenterror",
        "exceedlimit",
        "toomanyconn",
        "expired",
        "networkerror",
        "systemerror",
        "syntaxerror",
        "delivered",
        "undefined",
        "requireptr",
        "securityerror",
        "mailererror",
        "systemfull",
        "speeding",
        "ratelimited",
        "suppressed",
        "feedback",
        "notcompliantrfc",
        "vacation",
        "onhold",
    }
    assert {k.value for k in Kind} == {"hard", "soft", "none"}


def test_reason_sets_are_the_documented_ones() -> None:
    assert {
        Reason.POLICYVIOLATION,
        Reason.SPAMDETECTED,
        Reason.BADREPUTATION,
        Reason.AUTHFAILURE,
        Reason.BLOCKED,
        Reason.NORELAYING,
        Reason.REQUIREPTR,
        Reason.SECURITYERROR,
        Reason.NOTCOMPLIANTRFC,
        Reason.SPEEDING,
        Reason.RATELIMITED,
    } == SENDER_SIDE
    assert {Reason.MAILBOXFULL, Reason.SUSPEND, Reason.SUPPRESSED} == MAILBOX_SOFT
    assert {
        Reason.USERUNKNOWN,
        Reason.HOSTUNKNOWN,
        Reason.HASMOVED,
        Reason.NOTACCEPT,
    } == HARD_REASONS


def test_phrases_keys_are_reasons_and_cover_every_failure() -> None:
    keys = {Reason(key) for key, _patterns in PHRASES}
    # Not failures a text can name: successes, complaints, auto-replies, the undecided.
    assert keys == set(Reason) - {
        Reason.DELIVERED,
        Reason.UNDEFINED,
        Reason.ONHOLD,
        Reason.FEEDBACK,
        Reason.VACATION,
    }


# Codes as the reference taxonomy reads them (issue 12): 5.2.3 is the per-mailbox limit,
# 5.7.25 reverse DNS, 5.7.27 our sender's null MX, 4.4.1 an expiry, 5.7.0/5.7.7 security.
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("5.1.1", Reason.USERUNKNOWN),
        ("5.1.10", Reason.USERUNKNOWN),
        ("5.1.2", Reason.HOSTUNKNOWN),
        ("5.1.6", Reason.HASMOVED),
        ("5.2.1", Reason.SUSPEND),
        ("5.2.2", Reason.MAILBOXFULL),
        ("4.2.2", Reason.MAILBOXFULL),
        ("5.2.3", Reason.EXCEEDLIMIT),
        ("5.3.4", Reason.MESGTOOBIG),
        ("5.3.0", Reason.SYSTEMERROR),
        ("5.3.2", Reason.NOTACCEPT),
        ("5.7.26", Reason.AUTHFAILURE),
        ("5.7.27", Reason.REJECTED),
        ("5.7.25", Reason.REQUIREPTR),
        ("5.7.7", Reason.SECURITYERROR),
        ("4.4.7", Reason.EXPIRED),
        ("5.4.7", Reason.EXPIRED),
        ("4.4.1", Reason.EXPIRED),
        ("4.4.2", Reason.NETWORKERROR),
        ("5.4.4", Reason.HOSTUNKNOWN),
        ("4.7.28", Reason.TOOMANYCONN),
        ("5.6.0", Reason.CONTENTERROR),
        ("5.6.3", Reason.CONTENTERROR),
        ("5.5.2", Reason.SYNTAXERROR),
        ("5.5.0", Reason.SYNTAXERROR),
        ("5.7.13", Reason.SUSPEND),
        ("5.7.0", Reason.SECURITYERROR),
        ("5.7.1", Reason.REJECTED),
        ("2.0.0", Reason.DELIVERED),
        ("2.1.5", Reason.DELIVERED),
    ],
)
def test_classify_status_code_alone(status: str, expected: Reason) -> None:
    assert classify(status, None, None) is expected


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        ("5.0.0", "550 <x@example.com>... User unknown", Reason.FILTERED),
        ("5.7.1", "Message rejected due to SPF policy: not allowed to send", Reason.AUTHFAILURE),
        ("5.7.1", "rejected per DMARC policy for example.com", Reason.AUTHFAILURE),
        ("5.7.1", "Client host [192.0.2.1] blocked using zen.spamhaus.org", Reason.BLOCKED),
        ("5.7.1", "Relay access denied", Reason.NORELAYING),
        ("5.7.1", "Message rejected as spam by Content Filtering", Reason.SPAMDETECTED),
        ("5.7.1", "Virus found in message: Eicar-Test-Signature", Reason.VIRUSDETECTED),
        ("5.7.1", "very low reputation of the sending IP address", Reason.BADREPUTATION),
        ("4.7.0", "Too many connections from your host", Reason.TOOMANYCONN),
        (
            "4.7.0",
            "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
            "volume or user complaints",
            Reason.TOOMANYCONN,
        ),
        ("5.4.1", "Recipient address rejected: Access denied. AS(201806281)", Reason.USERUNKNOWN),
        # Hotmail's RCPT answer (its lookup triple) names a missing mailbox; the bare
        # RFC 5321 text is what many servers say to anything they refuse.
        (
            "5.5.0",
            "550 Requested action not taken: mailbox unavailable (-12:345:-6)",
            Reason.USERUNKNOWN,
        ),
        ("5.5.0", "Requested action not taken: mailbox unavailable", Reason.FILTERED),
        ("5.1.0", "Sender address rejected: Domain not found", Reason.REJECTED),
        ("4.0.0", "Mailbox is full", Reason.MAILBOXFULL),
        # qmail/vpopmail put #5.1.1 on over-quota mailboxes: soft, not a hard bounce.
        ("5.1.1", "Sorry, user over quota. (#5.1.1)", Reason.MAILBOXFULL),
        # Gmail's per-recipient receive rate uses 4.2.1, whose registry meaning is "disabled".
        (
            "4.2.1",
            "The user you are trying to contact is receiving mail at a rate that "
            "prevents additional messages from being delivered",
            Reason.EXCEEDLIMIT,
        ),
    ],
)
def test_classify_generic_status_is_refined_by_text(
    status: str, diagnostic: str, expected: Reason
) -> None:
    assert classify(status, None, diagnostic) is expected


def test_classify_specific_status_beats_text() -> None:
    assert classify("5.2.2", 552, "user unknown") is Reason.MAILBOXFULL
    assert classify("5.1.1", 550, "message rejected as spam") is Reason.USERUNKNOWN


def test_classify_generic_status_defers_to_specific_code_in_diagnostic() -> None:
    assert classify("5.0.0", 550, "550 5.2.2 quota problem") is Reason.MAILBOXFULL


def test_classify_takes_status_from_diagnostic_when_missing() -> None:
    assert classify(None, None, "550-5.1.1 The account is gone 550 5.1.1 gsmtp") is (
        Reason.USERUNKNOWN
    )


@pytest.mark.parametrize(
    ("smtp_code", "diagnostic", "expected"),
    [
        (551, "User not local; please try <other@example.org>", Reason.HASMOVED),
        (556, "Domain does not accept mail", Reason.NOTACCEPT),
        (521, None, Reason.NOTACCEPT),
        (550, "No such user here", Reason.FILTERED),
        (550, "Go ahead and try again", Reason.ONHOLD),
        (552, None, Reason.MAILBOXFULL),
        (552, "Message too large", Reason.MESGTOOBIG),
        (503, "Bad sequence of commands", Reason.SYNTAXERROR),
        (250, "OK", Reason.DELIVERED),
    ],
)
def test_classify_smtp_code_without_status(
    smtp_code: int, diagnostic: str | None, expected: Reason
) -> None:
    assert classify(None, smtp_code, diagnostic) is expected


@pytest.mark.parametrize(
    ("diagnostic", "expected"),
    [
        (
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
            " 550-5.1.1 double-checking the recipient's email address",
            Reason.USERUNKNOWN,
        ),
        ("RESOLVER.ADR.RecipNotFound; not found", Reason.USERUNKNOWN),
        ("Requested action not taken: mailbox unavailable", Reason.FILTERED),
        ("<bob@example.org>... User unknown", Reason.FILTERED),
        ("No such user here", Reason.FILTERED),
        ("delivery error: dd This user doesn't have a yahoo.com account", Reason.USERUNKNOWN),
        ("收件者不存在", Reason.FILTERED),
        ("Mailbox full", Reason.MAILBOXFULL),
        ("user is over quota", Reason.MAILBOXFULL),
        ("https://www.spamhaus.org/query/ip/192.0.2.1", Reason.BLOCKED),
        ("Client host rejected: blocked using bl.example.net", Reason.BLOCKED),
        ("SPF check failed for example.com", Reason.AUTHFAILURE),
        ("DKIM signature did not verify", Reason.AUTHFAILURE),
        ("Relay access denied", Reason.NORELAYING),
        ("message too large for this system", Reason.MESGTOOBIG),
        ("Message contains a virus", Reason.VIRUSDETECTED),
        ("You have been rate limited, slow down", Reason.SPEEDING),
        ("too many connections from your IP", Reason.TOOMANYCONN),
        ("account disabled", Reason.SUSPEND),
        ("This account has been suspended", Reason.SUSPEND),
        ("Host not found", Reason.HOSTUNKNOWN),
        ("Name service error for name=nowhere.example type=MX", Reason.HOSTUNKNOWN),
        ("Host not found, try again", Reason.NETWORKERROR),
        ("Connection timed out", Reason.NETWORKERROR),
        ("message expired after sitting in queue for 5 days", Reason.EXPIRED),
        ("this message is unsolicited bulk email", Reason.SPAMDETECTED),
        ("Message not accepted for policy reasons", Reason.POLICYVIOLATION),
        # Refusals of our IP that mention spam or authentication are still about the IP.
        ("550 5.7.1 Client host rejected: was not authenticated", Reason.BLOCKED),
        ("too many unwanted messages have been sent from the following IP address", Reason.BLOCKED),
        ("554 mx.example.net ESMTP not accepting connections", Reason.BLOCKED),
        # A server that takes no mail from us is not a domain that takes no mail.
        ("Our server does not accept mail from your domain", Reason.REJECTED),
        ("Sender verify failed", Reason.REJECTED),
        ("mailbox size limit exceeded", Reason.MAILBOXFULL),
        ("message size limit exceeded", Reason.MESGTOOBIG),
        ("Your message failed several antispam checks", Reason.SPAMDETECTED),
        ("an MX or SRV record indicated no SMTP service", Reason.NOTACCEPT),
    ],
)
def test_classify_diagnostic_text_alone(diagnostic: str, expected: Reason) -> None:
    # With no SMTP stage and no 5.1.x code, an "unknown user" text reads as a filter.
    assert classify(None, None, diagnostic) is expected


def test_classify_success_action_is_delivered_whatever_the_text() -> None:
    for action in ("delivered", "relayed", "Expanded"):
        assert classify("5.1.1", 550, "user unknown", action) is Reason.DELIVERED


# An "unknown user" that answered no RCPT, with no 5.1.x code or directory wording, is a
# filter (reference taxonomy); unclassifiable words are onhold, silence is undefined.
def test_classify_nothing_known_is_undefined() -> None:
    assert classify(None, None, None) is Reason.UNDEFINED
    assert classify("9.9.9", None, "lorem ipsum") is Reason.ONHOLD


@pytest.mark.parametrize("reason", list(Reason))
def test_kind_for_failed_is_hard_only_for_address_reasons(reason: Reason) -> None:
    expected = (
        Kind.NONE
        if reason in (Reason.DELIVERED, Reason.FEEDBACK, Reason.VACATION)
        else Kind.HARD
        if reason in HARD_REASONS
        else Kind.SOFT
    )
    assert kind_for(reason, "failed") is expected


def test_kind_for_delayed_is_never_hard() -> None:
    assert kind_for(Reason.USERUNKNOWN, "delayed") is Kind.SOFT
    assert kind_for(Reason.EXPIRED, "delayed") is Kind.SOFT


def test_kind_for_success_actions_is_none() -> None:
    for action in ("delivered", "relayed", "expanded"):
        assert kind_for(Reason.USERUNKNOWN, action) is Kind.NONE


def test_kind_for_sender_side_refusals_are_soft() -> None:
    assert all(kind_for(r, "failed") is Kind.SOFT for r in SENDER_SIDE | MAILBOX_SOFT)


def test_normalize_drops_repeated_reply_code_prefixes() -> None:
    text = "550-5.1.1 The email account that\n 550-5.1.1 you tried to reach does not exist"
    assert normalize(text) == "the email account that you tried to reach does not exist"


def test_enhanced_codes_ignores_ip_addresses() -> None:
    assert enhanced_codes("host [192.0.2.5] said 550 5.1.1 (#4.4.7) v10.2.5.4") == [
        "5.1.1",
        "4.4.7",
    ]


def test_match_text_empty_is_none() -> None:
    assert match_text(None) is None
    assert match_text("") is None


@pytest.mark.parametrize(
    ("status", "diagnostic", "command", "expected"),
    [
        ("5.6.0", "Recipient address rejected: Media error", "RCPT", Reason.CONTENTERROR),
        ("5.3.0", "Recipient address rejected: Internal error", "RCPT", Reason.SYSTEMERROR),
        ("5.0.0", "550 Access denied", "CONN", Reason.BLOCKED),
        ("5.1.0", "553 5.1.0 example.net does not exist", "MAIL", Reason.REJECTED),
        (None, "550 User unknown", "RCPT", Reason.USERUNKNOWN),
        (None, "550 User unknown", "DATA", Reason.FILTERED),
    ],
)
def test_classify_weighs_status_and_stage(
    status: str | None, diagnostic: str, command: str, expected: Reason
) -> None:
    assert classify(status, None, diagnostic, "failed", command=command) is expected
