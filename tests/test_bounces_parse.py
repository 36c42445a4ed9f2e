"""Tests for bounce parsing: the sample corpus, RFC 3464 details, guards, and robustness."""

from __future__ import annotations

import email
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from flufl.bounce import all_failures
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.bounces import mime
from worker.bounces.detectors import DETECTORS
from worker.bounces.parse import (
    NOT_A_BOUNCE,
    Parsed,
    Report,
    parse_bytes,
    parse_message,
    parse_strict,
)
from worker.bounces.reasons import Kind, Reason

CORPUS = Path(__file__).resolve().parent / "data" / "bounces"
OUR_RETURN_PATH = "bounces+0123456789abcdef0123.k3x9.0a1b2c3d4e5f6a7b@bounce.example.com"
OUR_MESSAGE_ID = "<0123456789abcdef0123.0@example.com>"
OUR_ENVID = "0123456789abcdef0123"

# The one table that drives the corpus test: file, recipient (None = not a bounce), action,
# status, reason, kind, and which code path found it.
EXPECTED: list[tuple[str, str | None, str, str | None, str, str, str]] = [
    (
        "postfix_userunknown.eml",
        "alice@example.net",
        "failed",
        "5.1.1",
        "userunknown",
        "hard",
        "rfc3464",
    ),
    # A delay on 4.4.1 ("no answer from host") is the retry clock running: expired in the
    # reference taxonomy (it was networkerror here before issue 12).
    ("postfix_delayed.eml", "bob@example.net", "delayed", "4.4.1", "expired", "soft", "rfc3464"),
    (
        "postfix_delivered.eml",
        "carol@example.net",
        "delivered",
        "2.0.0",
        "delivered",
        "none",
        "rfc3464",
    ),
    # The source column names the code path: since issue 12 Exim, qmail, Gmail, Yahoo and
    # AOL's sendmail-like notices have their own family detectors; flufl.bounce is fallback.
    ("exim_failed.eml", "dave@example.org", "failed", "5.1.1", "userunknown", "hard", "exim"),
    ("exim_failed.eml", "eve@example.org", "failed", None, "mailboxfull", "soft", "exim"),
    ("qmail_nomailbox.eml", "erin@example.org", "failed", "5.1.1", "userunknown", "hard", "qmail"),
    (
        "sendmail_userunknown.eml",
        "frank@example.org",
        "failed",
        "5.1.1",
        "userunknown",
        "hard",
        "rfc3464",
    ),
    (
        "office365_recipnotfound.eml",
        "grace@example.com",
        "failed",
        "5.1.10",
        "userunknown",
        "hard",
        "rfc3464",
    ),
    (
        "gmail_nosuchuser.eml",
        "heidi@example.com",
        "failed",
        "5.1.1",
        "userunknown",
        "hard",
        "rfc3464",
    ),
    (
        "gmail_dmarc_5726.eml",
        "ivan@example.com",
        "failed",
        "5.7.26",
        "authfailure",
        "soft",
        "gmail",
    ),
    ("yahoo_nouser.eml", "judy@example.com", "failed", None, "userunknown", "hard", "yahoo"),
    (
        "amazonses_userunknown.eml",
        "mallory@example.net",
        "failed",
        "5.1.1",
        "userunknown",
        "hard",
        "rfc3464",
    ),
    ("aol_notaccepting.eml", "niaj@example.com", "failed", None, "filtered", "soft", "xseries"),
    (
        "groupwise_userunknown.eml",
        "olivia@example.org",
        "failed",
        None,
        "userunknown",
        "hard",
        "groupwise",
    ),
    (
        "mailboxfull_522.eml",
        "peggy@example.org",
        "failed",
        "5.2.2",
        "mailboxfull",
        "soft",
        "rfc3464",
    ),
    ("spam_571.eml", "rupert@example.org", "failed", "5.7.1", "spamdetected", "soft", "rfc3464"),
    ("spamhaus_blocked.eml", "sybil@example.net", "failed", "5.7.1", "blocked", "soft", "rfc3464"),
    ("mesgtoobig_534.eml", "trudy@example.org", "failed", "5.3.4", "mesgtoobig", "soft", "rfc3464"),
    (
        "hostunknown.eml",
        "trent@nonexistent.example.net",
        "failed",
        "5.4.4",
        "hostunknown",
        "hard",
        "rfc3464",
    ),
    ("expired_447.eml", "uma@example.org", "failed", "4.4.7", "expired", "soft", "rfc3464"),
    (
        "zh_tw_big5_exchange.eml",
        "victor@example.com",
        "failed",
        "5.1.1",
        "userunknown",
        "hard",
        "rfc3464",
    ),
    (
        "zh_cn_gb2312_plain.eml",
        "walter@example.org",
        "failed",
        "5.1.1",
        "userunknown",
        "hard",
        "cjk_notice",
    ),
    (
        "global_dsn_suspend.eml",
        "xavier@example.com",
        "failed",
        "5.2.1",
        "suspend",
        "soft",
        "rfc3464",
    ),
    ("truncated_mime.eml", "yves@example.com", "failed", "5.1.1", "userunknown", "hard", "rfc3464"),
    ("out_of_office.eml", None, "", None, "", "", ""),
    ("out_of_office_zh_tw.eml", None, "", None, "", "", ""),
    ("ordinary_mail.eml", None, "", None, "", "", ""),
    ("challenge_response.eml", None, "", None, "", "", ""),
]


def _strict(data: bytes) -> Parsed:
    """The parser without its catch-all: an internal error raises and fails the test."""
    return parse_strict(BytesParser(policy=compat32).parsebytes(data))


def _load(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def _report(parsed: Parsed, recipient: str) -> Report:
    matches = [r for r in parsed.reports if r.recipient == recipient]
    assert len(matches) == 1, parsed.reports
    return matches[0]


@pytest.mark.parametrize(
    ("name", "recipient", "action", "status", "reason", "kind", "source"),
    EXPECTED,
    ids=[f"{row[0]}:{row[1]}" for row in EXPECTED],
)
def test_bounces_parse_corpus(
    name: str,
    recipient: str | None,
    action: str,
    status: str | None,
    reason: str,
    kind: str,
    source: str,
) -> None:
    parsed = parse_bytes(_load(name))
    if recipient is None:
        assert parsed.is_bounce is False
        assert parsed.reports == ()
        return
    assert parsed.is_bounce is True
    report = _report(parsed, recipient)
    assert (
        report.action,
        report.status,
        report.reason.value,
        report.kind.value,
        report.source,
    ) == (action, status, reason, kind, source)


def test_parse_corpus_table_covers_every_sample() -> None:
    assert {p.name for p in CORPUS.glob("*.eml")} == {row[0] for row in EXPECTED}


def test_parse_every_own_detector_is_a_named_family() -> None:
    assert len({name for name, _detector in DETECTORS}) == len(DETECTORS)


@pytest.mark.parametrize("name", sorted({row[0] for row in EXPECTED if row[1] is not None}))
def test_parse_corpus_bounces_are_tied_back_to_our_message(name: str) -> None:
    parsed = parse_bytes(_load(name))
    assert OUR_RETURN_PATH in parsed.returned_to
    if name != "truncated_mime.eml":  # cut off before the returned message
        assert OUR_MESSAGE_ID in parsed.original_message_ids


def test_parse_rfc3464_reads_every_field() -> None:
    parsed = parse_bytes(_load("postfix_userunknown.eml"))
    assert parsed.envelope_ids == (OUR_ENVID,)
    report = _report(parsed, "alice@example.net")
    assert report.original_recipient == "alice@example.net"  # "Alice@Example.net" lowercased
    assert report.envelope_id == OUR_ENVID
    assert report.remote_mta == "mail.example.net"
    assert report.smtp_code == 550
    # Folded over two lines in the DSN, one line here, "smtp;" type prefix removed.
    assert report.diagnostic == (
        "550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in local "
        "recipient table"
    )


def test_parse_exim_gives_each_recipient_its_own_diagnostic() -> None:
    parsed = parse_bytes(_load("exim_failed.eml"))
    dave, eve = _report(parsed, "dave@example.org"), _report(parsed, "eve@example.org")
    assert dave.diagnostic is not None and "User unknown" in dave.diagnostic
    assert eve.diagnostic is not None and "quota" in eve.diagnostic
    assert "User unknown" not in eve.diagnostic


def test_report_to_json_has_exactly_the_stored_fields() -> None:
    report = _report(parse_bytes(_load("spam_571.eml")), "rupert@example.org")
    assert report.to_json("n-42") == {
        "recipient": "rupert@example.org",
        "action": "failed",
        "status": "5.7.1",
        "reason": "spamdetected",
        "kind": "soft",
        "diagnostic": "550 5.7.1 Message rejected as spam by Content Filtering.",
        "notice_id": "n-42",
    }
    assert report.to_json()["notice_id"] is None


def _dsn(
    per_recipient: str,
    *,
    ctype: str = "message/delivery-status",
    cte: str = "",
    per_message: str = "Reporting-MTA: dns; mx.example.net\n\n",
) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\n"
        f"To: {OUR_RETURN_PATH}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nSorry.\n\n"
        f"--B\nContent-Type: {ctype}\n{cte}\n"
        f"{per_message}{per_recipient}\n"
        "--B--\n"
    ).encode()


def test_parse_gmail_x_original_message_id_is_used_for_tie_back() -> None:
    parsed = parse_bytes(
        _dsn(
            "Final-Recipient: rfc822; g@example.org\nAction: failed\nStatus: 5.1.1\n",
            per_message="Reporting-MTA: dns; googlemail.com\n"
            f"X-Original-Message-ID: {OUR_MESSAGE_ID}\n\n",
        )
    )
    assert parsed.original_message_ids == (OUR_MESSAGE_ID,)


def test_parse_returned_to_reads_every_delivery_header() -> None:
    data = (
        b"Delivered-To: A@bounce.example.com\nX-Original-To: b@bounce.example.com\n"
        b"Envelope-To: a@bounce.example.com\nTo: Bounces <c@bounce.example.com>\n\nhi\n"
    )
    assert parse_bytes(data).returned_to == (
        "c@bounce.example.com",
        "a@bounce.example.com",
        "b@bounce.example.com",
    )


def test_parse_missing_status_is_taken_from_the_diagnostic() -> None:
    parsed = parse_bytes(
        _dsn(
            "Final-Recipient: rfc822; <Zed@Example.ORG>\nAction: failed\n"
            "Diagnostic-Code: smtp; 550 5.1.1 no such user\n"
        )
    )
    report = _report(parsed, "zed@example.org")
    assert (report.status, report.reason, report.kind) == ("5.1.1", Reason.USERUNKNOWN, Kind.HARD)


def test_parse_delayed_action_is_never_hard() -> None:
    parsed = parse_bytes(
        _dsn(
            "Final-Recipient: rfc822; zed@example.org\nAction: delayed\nStatus: 4.1.1\n"
            "Diagnostic-Code: smtp; 450 4.1.1 user unknown, try later\n"
        )
    )
    report = _report(parsed, "zed@example.org")
    assert (report.action, report.reason, report.kind) == ("delayed", Reason.USERUNKNOWN, Kind.SOFT)


def test_parse_nonstandard_action_and_missing_action_are_normalized() -> None:
    parsed = parse_bytes(
        _dsn(
            "Final-Recipient: rfc822; a@example.org\nAction: error\nStatus: 5.2.2\n\n"
            "Final-Recipient: rfc822; b@example.org\nStatus: 4.4.7\n"
        )
    )
    assert _report(parsed, "a@example.org").action == "failed"
    assert _report(parsed, "b@example.org").action == "delayed"


def test_parse_base64_delivery_status_part() -> None:
    import base64

    body = base64.b64encode(
        b"Reporting-MTA: dns; gw.example.net\n\nFinal-Recipient: rfc822; b64@example.org\n"
        b"Action: failed\nStatus: 5.2.2\n"
    ).decode()
    parsed = parse_bytes(_dsn(body, cte="Content-Transfer-Encoding: base64\n", per_message=""))
    assert _report(parsed, "b64@example.org").reason is Reason.MAILBOXFULL


def test_parse_uppercase_content_types_are_accepted() -> None:
    parsed = parse_bytes(
        _dsn(
            "Final-Recipient: RFC822; up@example.org\nAction: FAILED\nStatus: 5.1.2\n",
            ctype="Message/Delivery-Status",
        )
    )
    report = _report(parsed, "up@example.org")
    assert (report.action, report.reason) == ("failed", Reason.HOSTUNKNOWN)


def test_parse_flufl_heuristics_do_not_fire_on_ordinary_mail() -> None:
    data = _load("ordinary_mail.eml")
    # flufl.bounce's LLNL detector calls "my accountant, anna@example.net, and" a failure ...
    _temporary, permanent = all_failures(email.message_from_bytes(data, policy=compat32))
    assert b"anna@example.net" in permanent
    # ... which our bounce-likeness gate must stop.
    assert parse_bytes(data) == Parsed(returned_to=(OUR_RETURN_PATH,))


@pytest.mark.parametrize("report_type", ["disposition-notification"])
def test_parse_read_receipts_are_not_bounces(report_type: str) -> None:
    data = (
        "Return-Path: <>\nFrom: MAILER-DAEMON@fbl.example.net\n"
        "Subject: Delivery report\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="R"\n\n'
        # Text flufl.bounce's qmail detector would report as a permanent failure.
        "--R\nContent-Type: text/plain\n\nHi. This is the qmail-send program at x.\n\n"
        "<victim@example.org>:\nuser unknown\n--R--\n"
    ).encode()
    assert parse_bytes(data).is_bounce is False


def test_parse_message_turns_internal_errors_into_not_a_bounce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(mime, "split_parts", explode)
    msg = email.message_from_bytes(_load("postfix_userunknown.eml"), policy=compat32)
    assert parse_message(msg) is NOT_A_BOUNCE


def test_parse_report_is_immutable() -> None:
    report = parse_bytes(_load("spam_571.eml")).reports[0]
    with pytest.raises(AttributeError):
        report.recipient = "other@example.org"  # type: ignore[misc]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 512,
        b"\xff\xfe\xfd garbage \r\n\r\n\x80\x81",
        b"Subject: " + b"A" * 200_000 + b"\n\nbody",
        b"Content-Type: multipart/report; boundary=x\n\n" + b"--x\nContent-Type: multipart/mixed;"
        b" boundary=x\n\n" * 2000,
        b"From: MAILER-DAEMON@x\nContent-Type: message/delivery-status\n\n" + b":\n \n" * 5000,
        b"From: MAILER-DAEMON@x\nSubject: =?x-bogus?B?////?=\nContent-Type: text/plain; "
        b'charset="no-such-charset"\nContent-Transfer-Encoding: base64\n\n!!!@@@',
    ],
    ids=["empty", "nul", "binary", "huge-header", "deep-nesting", "empty-fields", "bad-charset"],
)
def test_parse_bytes_survives_hostile_input(data: bytes) -> None:
    assert isinstance(_strict(data), Parsed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_parse_bytes_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    assert isinstance(_strict(data), Parsed)


_SAMPLES = sorted(CORPUS.glob("*.eml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SAMPLES),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.binary(max_size=16)), max_size=8),
    st.integers(0, 1 << 20),
)
def test_parse_bytes_never_raises_on_mutated_corpus(
    path: Path,
    edits: list[tuple[int, bytes]],
    cut: int,
) -> None:
    data = bytearray(path.read_bytes())
    for offset, junk in edits:
        at = offset % (len(data) + 1)
        data[at : at + len(junk) // 2] = junk  # overwrite some bytes, insert the rest
    if cut % 3 == 0:  # and sometimes truncate, as a broken connection would
        del data[len(data) - cut % (len(data) + 1) :]
    assert isinstance(_strict(bytes(data)), Parsed)


_ARF = (
    "From: staff@fbl.example.net\nTo: fbl@bounce.example.com\nSubject: complaint\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
    "--F\nContent-Type: text/plain\n\nThis is an email abuse report.\n\n"
    "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
    "User-Agent: fbl/1.0\nVersion: 1\n{rcpt}\n"
    "--F\nContent-Type: message/rfc822\n\n"
    f"Return-Path: <{OUR_RETURN_PATH}>\nFrom: billing@example.com\n"
    f"To: Zoe <zoe@example.org>\nMessage-ID: {OUR_MESSAGE_ID}\n\nPay up.\n--F--\n"
)


@pytest.mark.parametrize("rcpt", ["Original-Rcpt-To: zoe@example.org", ""])
def test_parse_arf_complaint_is_a_feedback_report(rcpt: str) -> None:
    parsed = _strict(_ARF.format(rcpt=rcpt).encode())
    assert parsed.is_complaint and parsed.is_bounce
    report = _report(parsed, "zoe@example.org")
    assert (report.action, report.reason, report.kind) == ("complaint", Reason.FEEDBACK, Kind.NONE)
    assert parsed.original_message_ids == (OUR_MESSAGE_ID,)
    assert parsed.original_senders == (OUR_RETURN_PATH,)


def test_parse_original_senders_come_from_the_returned_message() -> None:
    data = _load("postfix_userunknown.eml")
    assert _strict(data).original_senders in ((), (OUR_RETURN_PATH,))
