"""Property tests (hypothesis): whatever the event or bounce, the worker's own errors are
the only errors, and no field can reach a header."""

from __future__ import annotations

import email
import email.policy
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.support.bounces import make_dsn, processor
from tests.support.events import SECRET, make_event
from worker.bounces.ingest import BounceProcessor
from worker.bounces.parse import parse_bytes
from worker.errors import InvalidEvent, NoticeError
from worker.intake.events import KNOWN, Event, parse_event
from worker.notices.pipeline import Pipeline
from worker.notices.record import notice_id_for
from worker.render.message import build_message, to_bytes
from worker.render.renderer import SUBJECT_MAX, Renderer
from worker.settings import from_env
from worker.smtp.proof import envelope_sender

SETTINGS = from_env(
    {
        "SECRET_KEY": SECRET,
        "MAIL_FROM": "Billing <billing@example.com>",
        "SMTP_URL": "smtp://127.0.0.1:1",
    }
)
RENDERER = Renderer(SETTINGS)
BOUNCES = sorted((Path(__file__).parent / "data" / "bounces").glob("*.eml"))
#: PROPERTY_EXAMPLES=2000 for a longer hunt.
PROFILE = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies -----------------------------------------------------------------------------
#: Any JSON value: what a producer could put on the queue.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
#: Text with the characters that cause trouble: line breaks, NUL, separators, markup.
nasty_text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(
            [
                "\r",
                "\n",
                "\0",
                "\u2028",
                "\u2029",
                "\x85",
                "\t",
                "<",
                ">",
                "&",
                '"',
                "'",
                "{",
                "}",
                "%",
                "=",
                "?",
                ":",
                "@",
                "\\",
                "\ud800",
            ]
        ),
    ),
    max_size=300,
)
names = st.one_of(
    nasty_text,
    st.sampled_from(
        [
            "{{ 7*7 }}",
            "{% raw %}",
            "{{ config }}",
            "Alice\r\nBcc: evil@example.net",
            "<script>x</script>",
            "=?utf-8?q?a=0D=0ABcc:_x@example.net?=",
            "a" * 256,
            "王小明",
        ]
    ),
)
addresses = st.one_of(
    st.emails(),
    nasty_text,
    st.sampled_from(
        [
            "admin@example.com",
            "a@bücher.example",
            "x@example.com\r\nBcc: y@z.io",
            "用户@example.com",
            "a" * 64 + "@example.com",
            "Admin@EXAMPLE.com",
        ]
    ),
)
amounts = st.one_of(
    st.decimals(
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000000"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ).map(str),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["1234.50", "-1", "0"]),
)
dates = st.one_of(
    st.none(),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=30),
)


def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes any JSON value at all."""
    return st.one_of(valid, valid, valid, json_values)


events = st.fixed_dictionaries(
    {
        "event_id": field(st.text(min_size=1, max_size=128)),
        "subscription_id": field(st.text(min_size=1, max_size=128)),
        "admin_email": field(addresses),
        "amount": field(amounts),
        "currency": field(st.sampled_from(["TWD", "USD", "JPY", "EUR", "KWD", "usd", "ZZZ"])),
        "payment_method": field(st.sampled_from(["credit_card", "invoice", "cash"])),
    },
    optional={
        "locale": field(
            st.one_of(st.sampled_from(["zh-TW", "en", "zh-Hant", "fr", ""]), st.text(max_size=70))
        ),
        "reason": field(
            st.sampled_from(
                [
                    "card_declined",
                    "card_expired",
                    "insufficient_funds",
                    "processing_error",
                    "unknown",
                    "stolen",
                ]
            )
        ),
        "card_brand": field(names.map(lambda s: s[:32])),
        "card_last4": field(st.sampled_from(["4242", "0000", "42", "４２４２"])),
        "admin_name": field(names),
        "account_name": field(names),
        "subscription_name": field(names),
        "subscription_status": field(st.sampled_from(["active", "disabled", "paused"])),
        "failed_at": field(dates),
        "due_date": field(dates),
        "disable_at": field(dates),
        "extra_field": json_values,
    },
)


#: Ids as the contract takes them: used exactly as given, so no control or invisible
#: characters and no white space around them.
valid_ids = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=128,
    )
    .map(str.strip)
    .filter(bool)
)

#: Events built from valid values only (names may still hold anything): most parse.
valid_events = st.fixed_dictionaries(
    {
        "event_id": valid_ids,
        "subscription_id": valid_ids,
        "admin_email": st.one_of(
            st.emails(),
            st.sampled_from(
                [
                    "admin@example.com",
                    "a@bücher.example",
                    "Admin@EXAMPLE.com",
                    "a" * 64 + "@example.com",
                ]
            ),
        ),
        "amount": st.decimals(
            min_value=Decimal("1"),
            max_value=Decimal("1000000000"),
            places=0,
            allow_nan=False,
            allow_infinity=False,
        ).map(str),
        "currency": st.sampled_from(["TWD", "USD", "JPY", "EUR", "KWD", "usd"]),
        "payment_method": st.sampled_from(["credit_card", "invoice"]),
    },
    optional={
        "locale": st.one_of(
            st.sampled_from(["zh-TW", "en", "zh-Hant", "fr", ""]), st.text(max_size=70)
        ),
        "reason": st.sampled_from(
            [
                "card_declined",
                "card_expired",
                "insufficient_funds",
                "processing_error",
                "unknown",
                "stolen",
            ]
        ),
        "card_brand": names.map(lambda s: s[:32]),
        "card_last4": st.sampled_from(["4242", "0000"]),
        "admin_name": names,
        "account_name": names,
        "subscription_name": names,
        "subscription_status": st.sampled_from(["active", "disabled"]),
        "failed_at": st.datetimes().map(lambda d: d.isoformat()),
        "due_date": st.dates().map(str),
        "disable_at": st.one_of(
            st.dates().map(str), st.datetimes().map(lambda d: d.isoformat() + "Z")
        ),
    },
)


def _valid(payload: dict[str, Any]) -> Event:
    try:
        return parse_event(payload)
    except InvalidEvent:
        assume(False)
        raise


# -- events ---------------------------------------------------------------------------------
@PROFILE
@given(json_values)
def test_properties_parse_event_raises_only_invalid_event_for_any_json(payload: Any) -> None:
    try:
        parse_event(payload)
    except InvalidEvent as exc:
        assert exc.reason


@PROFILE
@given(events)
@example(make_event(admin_name="{{ 7*7 }}\r\nBcc: x@example.net"))
def test_properties_parse_event_raises_only_invalid_event_for_event_shaped_input(
    payload: dict[str, Any],
) -> None:
    try:
        event = parse_event(payload)
    except InvalidEvent as exc:
        assert exc.field in ("", *KNOWN) or exc.field.split(".")[0].split("[")[0] in payload
        return
    # A valid event holds no control characters in any text field.
    for name in (
        "event_id",
        "subscription_id",
        "admin_name",
        "account_name",
        "subscription_name",
        "card_brand",
    ):
        value = getattr(event, name)
        assert value is None or not any(c in value for c in "\r\n\0\u2028\u2029\x85")


@PROFILE
@given(valid_events)
@example(make_event(locale="en", subscription_name="x" * 256, admin_name="\r\n" * 100))
def test_properties_render_raises_only_our_errors_and_subject_is_one_short_line(
    payload: dict[str, Any],
) -> None:
    event = _valid(payload)
    try:
        rendered = RENDERER.render(event)
    except NoticeError:
        return
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert len(rendered.subject) <= SUBJECT_MAX
    assert rendered.subject
    assert rendered.html.lstrip().lower().startswith("<!doctype html")


@PROFILE
@given(valid_events)
def test_properties_built_message_never_carries_an_injected_header(payload: dict[str, Any]) -> None:
    event = _valid(payload)
    rendered = RENDERER.render(event)
    raw = to_bytes(
        build_message(
            rendered,
            to=event.admin_email,
            notice_id=notice_id_for(event.event_id),
            generation=0,
            settings=SETTINGS,
        )
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for header in ("To", "From", "Subject", "Message-ID"):
        assert len(msg.get_all(header) or []) == 1, header
    for header in ("Bcc", "Cc", "Sender", "Resent-To"):
        assert msg[header] is None, header
    assert msg["To"].addresses[0].addr_spec == event.admin_email
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in head.replace(b"\r\n", b"")
    assert b"\0" not in raw


# -- bounces --------------------------------------------------------------------------------
def _pipeline() -> tuple[Pipeline, BounceProcessor]:
    pipeline = Pipeline(SETTINGS, fakeredis.FakeRedis(decode_responses=True))
    return pipeline, processor(pipeline)


samples = st.sampled_from([p.read_bytes() for p in BOUNCES]) if BOUNCES else st.just(b"")


def _text_only(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda s: s.encode("utf-8", "ignore").decode("utf-8"))


@st.composite
def bounce_messages(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=2000))
    if kind == 1:  # a real sample, cut and spliced
        data = draw(samples)
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, len(data)))
        junk = draw(st.binary(max_size=50))
        return data[:start] + junk + data[end:]
    if kind == 2:  # a DSN with hostile fields (as text: no lone surrogates)
        nid = notice_id_for(draw(st.text(max_size=10)))
        return make_dsn(
            to=draw(st.one_of(st.just(envelope_sender(nid, SETTINGS)), _text_only(addresses))),
            recipient=draw(_text_only(addresses)).replace("{", "").replace("}", ""),
            action=draw(
                st.sampled_from(
                    [
                        "failed",
                        "delayed",
                        "delivered",
                        "relayed",
                        "expanded",
                        "",
                        "FAILED",
                        "x" * 100,
                    ]
                )
            ),
            status=draw(
                st.one_of(
                    st.sampled_from(["5.1.1", "4.4.7", "2.0.0", "9.9.9"]), st.text(max_size=12)
                )
            ),
            diagnostic=draw(_text_only(st.text(max_size=200))).replace("{", "").replace("}", ""),
            envid=draw(st.one_of(st.none(), st.just(nid), st.text(max_size=30))),
            message_id=draw(
                st.one_of(st.none(), st.just(f"<{nid}.0@example.com>"), st.text(max_size=40))
            ),
        ).replace(b"\x00", b"")
    return draw(samples)


@PROFILE
@given(bounce_messages())
def test_properties_bounce_parser_never_raises(data: bytes) -> None:
    parsed = parse_bytes(data)
    assert isinstance(parsed.reports, tuple)


@PROFILE
@given(bounce_messages(), st.lists(addresses, max_size=3))
def test_properties_bounce_processor_never_raises(data: bytes, rcpts: list[str]) -> None:
    pipeline, processor = _pipeline()
    intake = pipeline.accept(make_event(admin_email="admin@example.com"))
    token = envelope_sender(intake.notice_id or "", SETTINGS)
    results = processor.process(data, [*rcpts, token])
    for result in results:
        assert result.effect in (
            "bounced",
            "delivered",
            "deferred",
            "recorded",
            "unmatched",
            "forged",
        )
    record = pipeline.tracker.get(intake.notice_id or "")
    assert record is not None and record["status"] in (
        "queued",
        "bounced",
        "deferred",
        "delivered",
        "sent",
    )


@pytest.mark.parametrize("path", BOUNCES, ids=lambda p: p.name)
def test_properties_every_sample_bounce_goes_through_the_processor(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, processor = _pipeline()
    data = path.read_bytes()
    results = processor.process(data, ["bounces@example.com"])
    # No notice exists in this store: every report is kept as unmatched, none applied, and
    # the processor saw exactly what the parser sees.
    assert [r.report for r in results] == list(parse_bytes(data).reports)
    assert all(r.effect == "unmatched" and r.notice_id is None for r in results)
    assert len(processor.unmatched()) == len(results)
    assert "failed to parse" not in caplog.text
