"""The pipeline on an in-memory store against a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import time
from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.smtpd import Recorder
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.settings import Settings
from worker.smtp.proof import verify, verify_envelope_id, verify_message_id
from worker.smtp.server import ServerThread


@pytest.fixture
def pipeline(settings: Settings, fake_redis: Any, smtp_server: ServerThread) -> Pipeline:
    return Pipeline(settings.with_(smtp_url=smtp_server.url), fake_redis)


def test_pipeline_sends_a_multipart_notice_with_signed_return_path(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    intake = pipeline.handle_event(make_event())
    assert intake.status == "sent"
    assert len(recorder.messages) == 1
    sender, rcpts, raw = recorder.messages[0]
    assert rcpts == ["admin@example.com"]
    assert verify(sender, pipeline.settings) == intake.notice_id
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert "信用卡" in str(msg["Subject"])
    # Signed, so that a complaint quoting it proves it is about our notice.
    assert msg["Message-ID"] == (pipeline.tracker.get(intake.notice_id or "") or {})["message_id"]
    found = verify_message_id(msg["Message-ID"], pipeline.settings)
    assert found is not None and found.notice_id == intake.notice_id
    assert msg["Message-ID"].startswith(f"<{intake.notice_id}.0.")
    # DSN was offered by the server, so it was asked for.
    assert "RET=HDRS" in recorder.mail_options[0]
    # The ENVID is signed too (a DSN repeats it as Original-Envelope-Id); relays and
    # aiosmtpd may change its case.
    [envid] = [o[len("ENVID=") :] for o in recorder.mail_options[0] if o.startswith("ENVID=")]
    found = verify_envelope_id(envid, pipeline.settings)
    assert found is not None and found.notice_id == intake.notice_id
    assert "NOTIFY=SUCCESS,FAILURE,DELAY" in recorder.rcpt_options[0]


def test_pipeline_one_notice_per_event_id(pipeline: Pipeline, recorder: Recorder) -> None:
    results = [pipeline.handle_event(make_event()) for _ in range(3)]
    assert [r.created for r in results] == [True, False, False]
    assert len(recorder.messages) == 1
    assert pipeline.tracker.counts()["sent"] == 1


def test_pipeline_invalid_event_is_dead_lettered_with_reason(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    intake = pipeline.handle_event(make_event(amount=12.5))
    assert intake.invalid and intake.status is None
    record = pipeline.dead.get(intake.dead_letter_id or "")
    assert record is not None
    assert record["field"] == "amount"
    assert "JSON numbers are refused" in record["reason"]
    assert json.loads(record["payload"])["amount"] == 12.5
    assert recorder.messages == []


def test_pipeline_recipient_refused_bounces_without_retry(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    recorder.refuse_rcpt["admin@example.com"] = "550 5.1.1 <admin@example.com>: user unknown"
    intake = pipeline.handle_event(make_event())
    assert intake.status == "bounced"
    record = pipeline.tracker.get(intake.notice_id or "")
    assert record is not None
    bounce = json.loads(record["bounce"])
    assert (bounce["kind"], bounce["reason"], bounce["status"]) == ("hard", "userunknown", "5.1.1")
    assert pipeline.tracker.due() == []  # nothing scheduled
    assert pipeline.suppressions.get("admin@example.com") is not None


def test_pipeline_policy_refusal_bounces_soft_and_does_not_suppress(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    recorder.refuse_rcpt["admin@example.com"] = (
        "550 5.7.1 Message rejected due to DMARC policy of the sending domain"
    )
    intake = pipeline.handle_event(make_event())
    assert intake.status == "bounced"
    bounce = json.loads((pipeline.tracker.get(intake.notice_id or "") or {})["bounce"])
    assert bounce["kind"] == "soft"
    assert pipeline.suppressions.get("admin@example.com") is None


def test_pipeline_data_refusal_fails_without_retry(pipeline: Pipeline, recorder: Recorder) -> None:
    recorder.data_reply = "554 5.6.0 Message content rejected"
    intake = pipeline.handle_event(make_event())
    assert intake.status == "failed"
    assert pipeline.tracker.due() == []
    assert pipeline.suppressions.get("admin@example.com") is None


def test_pipeline_transient_failure_defers_then_fails_when_retries_run_out(
    settings: Settings, fake_redis: Any
) -> None:
    from worker.net import free_port

    dead_port = free_port()
    pipeline = Pipeline(
        settings.with_(smtp_url=f"smtp://127.0.0.1:{dead_port}", retry_delays=(0.0, 0.0)),
        fake_redis,
    )
    intake = pipeline.handle_event(make_event())
    assert intake.status == "deferred"
    nid = intake.notice_id or ""
    assert pipeline.deliver(nid) == "ok"
    assert (pipeline.tracker.get(nid) or {})["status"] == "deferred"
    assert pipeline.deliver(nid) == "ok"
    record = pipeline.tracker.get(nid) or {}
    assert record["status"] == "failed"
    assert record["attempts"] == "3"
    assert "gave up after 3 attempts" in record["last_error"]


def test_pipeline_deferred_notice_is_swept_and_sent_when_the_relay_returns(
    settings: Settings, fake_redis: Any, recorder: Recorder
) -> None:
    from worker.net import free_port

    port = free_port()
    pipeline = Pipeline(
        settings.with_(smtp_url=f"smtp://127.0.0.1:{port}", retry_delays=(0.2,)), fake_redis
    )
    nid = pipeline.handle_event(make_event()).notice_id or ""
    assert (pipeline.tracker.get(nid) or {})["status"] == "deferred"
    server = ServerThread(recorder, port=port)
    server.start()
    try:
        time.sleep(0.3)
        swept: list[str] = []
        assert pipeline.sweep(swept.append) == 1
        assert swept == [nid]
        assert pipeline.deliver(nid) == "ok"
    finally:
        server.stop()
    assert (pipeline.tracker.get(nid) or {})["status"] == "sent"
    assert len(recorder.messages) == 1


def test_pipeline_concurrent_claims_send_once(pipeline: Pipeline, recorder: Recorder) -> None:
    intake = pipeline.accept(make_event())
    nid = intake.notice_id or ""
    first = pipeline.tracker.claim(nid, 60)
    second = pipeline.tracker.claim(nid, 60)
    assert (first.outcome, second.outcome) == ("ok", "busy")


def test_pipeline_suppressed_address_creates_suppressed_notice(
    pipeline: Pipeline, recorder: Recorder
) -> None:
    pipeline.suppressions.add(
        "admin@example.com", notice_id="x", reason="userunknown", status="5.1.1", kind="hard"
    )
    intake = pipeline.handle_event(make_event())
    assert intake.status == Status.SUPPRESSED
    assert recorder.messages == []
    other = pipeline.handle_event(make_event(event_id="evt-2", admin_email="new@example.com"))
    assert other.status == "sent"


def test_pipeline_unexpected_error_defers_instead_of_losing_the_notice(
    pipeline: Pipeline, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("template helper exploded")

    monkeypatch.setattr(pipeline.renderer, "render", broken)
    intake = pipeline.handle_event(make_event())
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert record["status"] == "deferred"
    assert "exploded" in record["last_error"]
    assert pipeline.dead.count() == 0
