"""Bad input: every malformed or hostile event gets a clear reason naming the field and is
dead-lettered (or refused), and never stops the events around it.

Most cases run through the in-memory pipeline (fakeredis) against a recording SMTP
server; one end-to-end test mixes ~20 bad inputs with valid events through a real worker.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.mail import body, parse
from tests.support.smtpd import Recorder
from worker.errors import InvalidEvent
from worker.intake.events import MAX_EVENT_BYTES, decode, parse_event
from worker.notices import keys
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.server import ServerThread

CARD = "4111111111111111"  # a Luhn-valid test card number
CARD_FORMS = (CARD, "4111 1111 1111 1111", "4111-1111-1111-1111")


@pytest.fixture
def pipeline(settings: Settings, fake_redis: Any, smtp_server: ServerThread) -> Pipeline:
    return Pipeline(settings.with_(smtp_url=smtp_server.url), fake_redis)


def _dead(pipeline: Pipeline, payload: Any) -> dict[str, str]:
    """Run ``payload`` through the pipeline; it must be refused and kept as a dead letter."""
    intake = pipeline.handle_event(payload)
    assert intake.invalid and intake.status is None, intake
    assert intake.notice_id is None
    record = pipeline.dead.get(intake.dead_letter_id or "")
    assert record is not None
    assert record["reason"]
    return record


def _mail(recorder: Recorder, index: int = -1) -> email.message.EmailMessage:
    raw = recorder.messages[index][2]
    return email.message_from_bytes(raw, policy=email.policy.default)


def _all_redis_text(client: Any) -> str:
    """Every key and every value in the store, as one string."""
    chunks: list[str] = []
    for key in client.scan_iter(count=1000):
        chunks.append(key)
        kind = client.type(key)
        if kind == "string":
            chunks.append(client.get(key) or "")
        elif kind == "hash":
            chunks.extend(f"{k}={v}" for k, v in client.hgetall(key).items())
        elif kind == "list":
            chunks.extend(client.lrange(key, 0, -1))
        elif kind == "set":
            chunks.extend(client.smembers(key))
        elif kind == "zset":
            chunks.extend(client.zrange(key, 0, -1))
    return "\n".join(chunks)


# -- not an event at all ----------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not json {",
        b"",
        b'{"event_id": ',
        b"[1, 2",
        b"\x00\x01\x02",
        b"{'single': 'quotes'}",
    ],
)
def test_bad_input_non_json_bytes_raise_invalid_event_not_a_json_error(body: bytes) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode(body)
    assert "not valid JSON" in info.value.reason


@pytest.mark.parametrize("payload", [[1, 2, 3], "an event", 42, 1.5, None, True, [make_event()]])
def test_bad_input_json_that_is_not_an_object_is_dead_lettered(
    pipeline: Pipeline, recorder: Recorder, payload: Any
) -> None:
    record = _dead(pipeline, payload)
    assert "must be a JSON object" in record["reason"]
    assert record["field"] == ""
    assert recorder.messages == []


def test_bad_input_deeply_nested_json_is_refused_cleanly() -> None:
    body = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidEvent):
        decode(body)


# -- the contract's fields ---------------------------------------------------------------
@pytest.mark.parametrize(
    "field", ["event_id", "subscription_id", "admin_email", "amount", "currency", "payment_method"]
)
def test_bad_input_missing_required_field_is_named(pipeline: Pipeline, field: str) -> None:
    event = make_event()
    del event[field]
    record = _dead(pipeline, event)
    assert record["field"] == field
    assert record["reason"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", 123),
        ("event_id", ["a"]),
        ("event_id", ""),
        ("event_id", "   "),
        ("subscription_id", {"id": 1}),
        ("admin_email", ["a@example.com"]),
        ("admin_email", 5),
        ("currency", 840),
        ("payment_method", 1),
        ("payment_method", "cash"),
        ("locale", 7),
        ("card_last4", 4242),
        ("card_last4", "42a2"),
        ("card_last4", "12345"),
        ("card_last4", "١٢٣٤"),
        ("admin_name", 12),
        ("subscription_status", "paused"),
        ("failed_at", "yesterday"),
        ("due_date", 20261120),
        ("disable_at", "2026-13-45"),
        ("card_brand", "x" * 40),
        ("disable_at", "9999-10-03"),
        ("failed_at", "0001-01-01T00:00:00+05:00"),
        ("due_date", "9999-12-31T23:59:59-05:00"),
    ],
)
def test_bad_input_wrongly_typed_field_is_named(pipeline: Pipeline, field: str, value: Any) -> None:
    record = _dead(pipeline, make_event(**{field: value}))
    assert record["field"] == field, record
    assert field in record["reason"]


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (12.5, "JSON numbers are refused"),
        (1234, "JSON numbers are refused"),
        (True, "JSON numbers are refused"),
        ("-5.00", "must be positive"),
        ("0", "greater than zero"),
        ("0.00", "greater than zero"),
        ("999999999999", "implausibly large"),
        ("1" * 40, "decimal string"),
        ("1e5", "decimal string"),
        ("NaN", "decimal string"),
        ("Infinity", "decimal string"),
        ("abc", "decimal string"),
        ("", "decimal string"),
        ("12,50", "decimal string"),
        ("1.234567", "decimal string"),
        ("12.5.0", "decimal string"),
        ("١٢٣", "decimal string"),
        ("１２３.００", "decimal string"),
    ],
)
def test_bad_input_bad_amount_is_refused_with_reason(
    pipeline: Pipeline, amount: Any, why: str
) -> None:
    record = _dead(pipeline, make_event(amount=amount))
    assert record["field"] == "amount"
    assert why in record["reason"]


def test_bad_input_amount_with_more_decimals_than_the_currency_is_refused(
    pipeline: Pipeline,
) -> None:
    record = _dead(pipeline, make_event(currency="JPY", amount="100.50"))
    assert record["field"] == "amount" and "JPY" in record["reason"]


@pytest.mark.parametrize("currency", ["ZZZ", "", "US", "DOLLARS", "€", "U\nSD", "XXXX"])
def test_bad_input_unknown_currency_is_named(pipeline: Pipeline, currency: str) -> None:
    record = _dead(pipeline, make_event(currency=currency))
    assert record["field"] == "currency"


# -- card numbers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "event", "path"),
    [
        ("a name", make_event(admin_name=f"Alice {CARD}"), "admin_name"),
        ("spaced", make_event(account_name="card 4111 1111 1111 1111"), "account_name"),
        ("dashed", make_event(subscription_name="4111-1111-1111-1111"), "subscription_name"),
        ("an unknown field", make_event(pan=CARD), "pan"),
        (
            "nested",
            make_event(meta={"payment": [{"note": f"card {CARD}"}]}),
            "meta.payment[0].note",
        ),
        ("a key", make_event(meta={CARD: "x"}), "meta"),
        ("a number", make_event(card_number=int(CARD)), "card_number"),
    ],
)
def test_bad_input_card_number_anywhere_is_refused_and_never_stored_in_clear(
    pipeline: Pipeline,
    recorder: Recorder,
    fake_redis: Any,
    where: str,
    event: dict[str, Any],
    path: str,
) -> None:
    record = _dead(pipeline, event)
    assert record["field"] == path, where
    assert "card number" in record["reason"]
    stored = _all_redis_text(fake_redis)
    assert "1111" in stored  # the last four stay, so the producer can find the event
    for form in CARD_FORMS:
        assert form not in stored, where
    assert recorder.messages == []


def test_bad_input_card_last4_alone_is_fine(pipeline: Pipeline, recorder: Recorder) -> None:
    assert pipeline.handle_event(make_event(card_last4="1111")).status == "sent"


# -- names: control characters, length, markup, template syntax ----------------------------
def test_bad_input_crlf_and_nul_in_names_cannot_add_headers(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    event = make_event(
        locale="en",
        admin_name="Alice\r\nBcc: evil@example.net\r\n\r\nhi",
        account_name="Acme\0Corp\nX-Injected: 1",
        subscription_name="Plan\u2028Subject: free money",
    )
    intake = pipeline.handle_event(event)
    assert intake.status == "sent"
    msg = _mail(recorder)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert len(msg.get_all("Subject") or []) == 1
    assert recorder.messages[0][1] == ["admin@example.com"]
    text = body(msg, "plain")
    assert "Alice Bcc: evil@example.net hi" in text
    assert "\0" not in text


def test_bad_input_ten_thousand_character_name_is_refused(pipeline: Pipeline) -> None:
    record = _dead(pipeline, make_event(admin_name="A" * 10_000))
    assert record["field"] == "admin_name"
    assert "longer than 256" in record["reason"]


@pytest.mark.parametrize("field", ["admin_name", "account_name", "subscription_name"])
def test_bad_input_html_and_template_syntax_in_names_render_as_text(
    pipeline: Pipeline, recorder: Recorder, field: str
) -> None:
    hostile = "<script>alert(1)</script> {{ 7*7 }} {% if true %}yes{% endif %} ${7*7}"
    intake = pipeline.handle_event(make_event(locale="en", **{field: hostile}))
    assert intake.status == "sent"
    msg = _mail(recorder)
    html = body(msg, "html")
    text = body(msg, "plain")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for part in (html, text):
        assert "{{ 7*7 }}" in part
        assert " 49 " not in part and ">49<" not in part
    assert "{% if true %}yes{% endif %}" in html
    # The text part wraps long lines; the name is there, unescaped and unevaluated.
    flat = " ".join(text.split())
    assert "<script>alert(1)</script> {{ 7*7 }} {% if true %}yes{% endif %}" in flat


# -- addresses --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "a@b",
        "a@@example.com",
        "a b@example.com",
        "@example.com",
        "alice@",
        "<alice@example.com>",
        "Alice <alice@example.com>",
        "alice@exam\nple.com",
        "alice@example.com\r\nBcc: evil@example.net",
        "alice@exa mple.com",
        "alice@-example.com",
        "alice@example..com",
        ".alice@example.com",
        "alice.@example.com",
        "alice@127.0.0.1",
        "alice@[127.0.0.1]",
        '"alice bob"@example.com',
        "a" * 65 + "@example.com",
        "alice@" + "a" * 250 + ".com",
        "alice@" + ".".join(["abcdefghij"] * 30) + ".com",
        "用户@example.com",
        "alice@example.com,bob@example.com",
        "",
    ],
)
def test_bad_input_invalid_address_is_refused_naming_admin_email(
    pipeline: Pipeline, recorder: Recorder, address: str
) -> None:
    record = _dead(pipeline, make_event(admin_email=address))
    assert record["field"] == "admin_email"
    assert recorder.messages == []
    assert recorder.rcpt_attempts == []


@pytest.mark.parametrize(
    ("address", "sent_to"),
    [
        ("user@bücher.example", "user@xn--bcher-kva.example"),
        ("admin@測試.台灣", "admin@xn--g6w251d.xn--kpry57d"),
        ("Admin@Example.COM", "Admin@example.com"),
        ("  padded@example.com  ", "padded@example.com"),
    ],
)
def test_bad_input_internationalized_domain_is_sent_in_ascii(
    pipeline: Pipeline, recorder: Recorder, address: str, sent_to: str
) -> None:
    intake = pipeline.handle_event(make_event(admin_email=address))
    assert intake.status == "sent"
    assert recorder.messages[0][1] == [sent_to]
    assert str(_mail(recorder)["To"]) == sent_to


def test_bad_input_longest_valid_address_is_sent(settings: Settings, fake_redis: Any) -> None:
    # Without DSN: with it, RCPT carries the address twice (ORCPT) and its line passes
    # 512 octets, which RFC 3461 allows but aiosmtpd refuses ("500 Command line too long").
    recorder = Recorder()
    server = ServerThread(recorder)
    server.start()
    try:
        pipeline = Pipeline(settings.with_(smtp_url=server.url), fake_redis)
        address = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com"  # 64 + 1 + 186 = 251
        assert len(address) <= 254
        assert pipeline.handle_event(make_event(admin_email=address)).status == "sent"
        assert recorder.messages[0][1] == [address]
    finally:
        server.stop()


# -- size, locales ----------------------------------------------------------------------
def test_bad_input_five_megabyte_event_is_refused_and_kept_cut(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    event = make_event(blob="x" * (5 * 1024 * 1024))
    record = _dead(pipeline, event)
    assert record["field"] == ""
    assert f"the limit is {MAX_EVENT_BYTES}" in record["reason"]
    assert len(record["payload"]) < 70 * 1024  # kept, but cut
    assert "cut" in record["payload"]
    assert record["event_id"] == "evt-1"
    assert recorder.messages == []


@pytest.mark.parametrize(
    "locale",
    [
        "xx-YY",
        "klingon",
        "",
        "../../etc/passwd",
        "zh-CN",
        "zh-Hans-TW",
        "fr_FR.UTF-8",
        "x" * 500,
        "en-US\r\n",
        "{{ 7*7 }}",
    ],
)
def test_bad_input_unknown_locale_falls_back_to_english(
    pipeline: Pipeline, recorder: Recorder, locale: str
) -> None:
    intake = pipeline.handle_event(make_event(locale=locale))
    assert intake.status == "sent"
    msg = _mail(recorder)
    assert msg["Content-Language"] == "en"
    assert "card" in str(msg["Subject"]).lower()
    record = pipeline.tracker.get(intake.notice_id or "")
    assert record is not None and record["locale"] == "en"


@pytest.mark.parametrize("field", ["admin_name", "event_id", "unknown_field"])
def test_bad_input_lone_surrogate_is_dead_lettered_not_a_crash(
    pipeline: Pipeline, recorder: Recorder, field: str
) -> None:
    # Valid JSON (the escape \\ud800 is legal) that decodes to text that is not Unicode.
    payload = decode(json.dumps(make_event(**{field: "A@@B"})).replace("@@", "\\ud800"))
    assert payload[field] == "A\ud800B"
    record = _dead(pipeline, payload)
    assert "not valid Unicode" in record["reason"]
    assert "A\\ud800B" in record["payload"]
    assert recorder.messages == []


def test_bad_input_parse_event_never_raises_anything_else() -> None:
    for payload in (
        {"event_id": object()},
        {1: 2},
        {"amount": float("nan")},
        {"admin_email": None},
        {"currency": ["TWD"]},
    ):
        with pytest.raises(InvalidEvent):
            parse_event(payload)


def test_bad_input_bad_events_do_not_stop_the_good_ones(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    results = []
    for i in range(10):
        results.append(pipeline.handle_event(make_event(event_id=f"bad-{i}", amount=i + 0.5)))
        results.append(
            pipeline.handle_event(make_event(event_id=f"good-{i}", admin_email=f"g{i}@example.com"))
        )
    assert [r.status or "invalid" for r in results] == ["invalid", "sent"] * 10
    assert len(recorder.messages) == 10
    assert pipeline.dead.count() == 10


# -- end to end: a real worker, ~20 bad inputs mixed with valid events ----------------------
@pytest.mark.e2e
def test_bad_input_mixed_batch_through_a_real_worker(
    tmp_path: Path, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    import redis
    from celery import Celery
    from kombu.connection import Connection

    from tests.faults import own_redis_server
    from tests.support.processes import wait_for
    from worker.notices.record import notice_id_for
    from worker.notices.store import Tracker

    own = own_redis_server(tmp_path / "redis")  # not the shared test database
    try:
        client = redis.Redis.from_url(own.url, decode_responses=True)
        start_worker(smtp_server.url, REDIS_URL=own.url)
        bad: list[tuple[str, dict[str, Any], str]] = [
            ("float", make_event(amount=12.5), "amount"),
            ("negative", make_event(amount="-1.00"), "amount"),
            ("huge", make_event(amount="99999999999"), "amount"),
            ("words", make_event(amount="ten"), "amount"),
            ("currency", make_event(currency="ZZZ"), "currency"),
            ("no-currency", make_event(currency=None), "currency"),
            ("no-email", make_event(admin_email=None), "admin_email"),
            ("bad-email", make_event(admin_email="nobody"), "admin_email"),
            (
                "crlf-email",
                make_event(admin_email="a@example.com\r\nBcc: x@example.net"),
                "admin_email",
            ),
            ("utf8-local", make_event(admin_email="用户@example.com"), "admin_email"),
            ("long-name", make_event(admin_name="N" * 10_000), "admin_name"),
            ("card", make_event(admin_name=f"pay with {CARD}"), "admin_name"),
            ("card-nested", make_event(meta={"n": [CARD]}), "meta.n[0]"),
            ("last4", make_event(card_last4=4242), "card_last4"),
            ("method", make_event(payment_method="cash"), "payment_method"),
            ("typed-id", make_event(subscription_id=17), "subscription_id"),
            ("date", make_event(failed_at="last tuesday"), "failed_at"),
            ("status", make_event(subscription_status="paused"), "subscription_status"),
            ("big", make_event(blob="x" * (1024 * 1024)), ""),
        ]
        producer = Celery(broker=own.url)
        good_ids = []
        for i, (name, event, _) in enumerate(bad):
            event["event_id"] = f"bad-{name}"
            producer.send_task("notices.charge_failed", args=[event])
            good = make_event(
                event_id=f"good-{i}",
                admin_email=f"good-{i}@example.com",
                admin_name="<b>{{ 7*7 }}</b>",
                locale="tlh",
            )
            producer.send_task("notices.charge_failed", args=[good])
            good_ids.append(good["event_id"])
        for raw in ([1, 2, 3], "just a string", None):  # JSON, but not an object
            producer.send_task("notices.charge_failed", args=[raw])
        with Connection(own.url) as conn:  # bytes that are not JSON at all
            conn.Producer().publish(
                b"\xff\xfe not json {",
                routing_key="celery",
                exchange="",
                content_type="application/json",
                content_encoding="binary",
                headers={"task": "notices.charge_failed", "id": "raw-1"},
            )
        tracker = Tracker(client)

        def all_sent() -> bool:
            return all(
                (tracker.get(notice_id_for(e)) or {}).get("status") == "sent" for e in good_ids
            )

        def dead_count() -> int:
            return int(client.zcard(keys.DEAD))

        expected_dead = len(bad) + 3 + 1
        wait_for(lambda: all_sent() and dead_count() >= expected_dead, timeout=60)
        assert len(recorder.messages) == len(good_ids)
        assert sorted(r[0] for _, r, _ in recorder.messages) == sorted(
            f"good-{i}@example.com" for i in range(len(good_ids))
        )
        assert dead_count() == expected_dead
        dead = [client.hgetall(keys.dead_letter(str(d))) for d in client.zrange(keys.DEAD, 0, -1)]
        by_event = {d.get("event_id"): d for d in dead if d.get("event_id")}
        for name, _, field in bad:
            record = by_event[f"bad-{name}"]
            assert record["field"] == field, (name, record)
            if field:
                assert field in record["reason"], (name, record)
        anonymous = [d for d in dead if not d.get("event_id")]
        assert len(anonymous) == 4
        assert sum("must be a JSON object" in d["reason"] for d in anonymous) == 3
        assert sum("undecodable" in d["reason"] for d in anonymous) == 1
        stored = _all_redis_text(client)
        assert CARD not in stored
        assert all(tracker.get(notice_id_for(f"bad-{name}")) is None for name, _, _ in bad)
        for _, _, mail in recorder.messages:
            msg = parse(mail)
            assert "&lt;b&gt;{{ 7*7 }}&lt;/b&gt;" in body(msg, "html")
            assert msg["Content-Language"] == "en"
        assert json.loads(json.dumps(dead))  # every record is plain JSON-able text
    finally:
        own.stop()
