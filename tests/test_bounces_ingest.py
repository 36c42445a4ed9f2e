"""Tying bounces back to notices and applying them (in-memory store)."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

import pytest

from tests.support.bounces import make_dsn, processor
from tests.support.events import DATA, make_event
from worker.bounces.ingest import read_messages
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.settings import Settings
from worker.smtp.proof import envelope_sender
from worker.smtp.server import ServerThread


@pytest.fixture
def pipeline(settings: Settings, fake_redis: Any, smtp_server: ServerThread) -> Pipeline:
    return Pipeline(settings.with_(smtp_url=smtp_server.url), fake_redis)


@pytest.fixture
def sent(pipeline: Pipeline) -> str:
    intake = pipeline.handle_event(make_event(admin_email="alice@example.net"))
    assert intake.status == "sent"
    return intake.notice_id or ""


def _process(pipeline: Pipeline, data: bytes) -> list[Any]:
    return processor(pipeline).process(data)


def test_bounces_ingest_failure_by_token_bounces_and_suppresses(
    pipeline: Pipeline, sent: str
) -> None:
    to = envelope_sender(sent, pipeline.settings)
    [result] = _process(pipeline, make_dsn(to=to, recipient="alice@example.net"))
    assert (result.notice_id, result.matched_by, result.effect) == (sent, "token", "bounced")
    record = pipeline.tracker.get(sent) or {}
    assert record["status"] == "bounced"
    bounce = json.loads(record["bounce"])
    assert (bounce["status"], bounce["reason"], bounce["kind"]) == ("5.1.1", "userunknown", "hard")
    assert pipeline.suppressions.get("alice@example.net") is not None
    again = pipeline.handle_event(make_event(event_id="evt-2", admin_email="alice@example.net"))
    assert again.status == Status.SUPPRESSED


def test_bounces_ingest_forged_token_is_unmatched_and_changes_nothing(
    pipeline: Pipeline, sent: str
) -> None:
    real = envelope_sender(sent, pipeline.settings)
    forged = real[: -len("@example.com")][:-4] + "0000@example.com"
    [result] = _process(pipeline, make_dsn(to=forged, recipient="alice@example.net", envid=sent))
    assert result.effect == "forged" and result.notice_id is None
    assert (pipeline.tracker.get(sent) or {})["status"] == "sent"
    assert pipeline.suppressions.get("alice@example.net") is None
    assert processor(pipeline).unmatched()[0]["why"] == "forged"


def test_bounces_ingest_success_dsn_delivers_and_late_delay_does_not_undo_it(
    pipeline: Pipeline, sent: str
) -> None:
    to = envelope_sender(sent, pipeline.settings)
    _process(
        pipeline,
        make_dsn(
            to=to,
            recipient="alice@example.net",
            action="delivered",
            status="2.0.0",
            diagnostic="smtp; 250 2.0.0 OK",
        ),
    )
    assert (pipeline.tracker.get(sent) or {})["status"] == "delivered"
    _process(
        pipeline,
        make_dsn(
            to=to, recipient="alice@example.net", action="delayed", status="4.4.1", diagnostic=""
        ),
    )
    assert (pipeline.tracker.get(sent) or {})["status"] == "delivered"
    assert [h["status"] for h in pipeline.tracker.history(sent)][-1] == "delivered"
    assert len(pipeline.tracker.history(sent)) == 4  # queued, sent, delivered, delay noted


def test_bounces_ingest_delay_dsn_defers_without_rescheduling(
    pipeline: Pipeline, sent: str
) -> None:
    to = envelope_sender(sent, pipeline.settings)
    _process(
        pipeline,
        make_dsn(
            to=to, recipient="alice@example.net", action="delayed", status="4.4.7", diagnostic=""
        ),
    )
    record = pipeline.tracker.get(sent) or {}
    assert record["status"] == "deferred" and record["dsn_delayed"] == "1"
    assert pipeline.tracker.due() == []


def test_bounces_ingest_bounce_after_delivered_sets_bounced(pipeline: Pipeline, sent: str) -> None:
    to = envelope_sender(sent, pipeline.settings)
    _process(
        pipeline,
        make_dsn(
            to=to, recipient="alice@example.net", action="delivered", status="2.0.0", diagnostic=""
        ),
    )
    _process(pipeline, make_dsn(to=to, recipient="alice@example.net"))
    assert (pipeline.tracker.get(sent) or {})["status"] == "bounced"


def test_bounces_ingest_sender_side_refusal_flags_without_suppressing(
    pipeline: Pipeline, sent: str
) -> None:
    to = envelope_sender(sent, pipeline.settings)
    _process(
        pipeline,
        make_dsn(
            to=to,
            recipient="alice@example.net",
            status="5.7.1",
            diagnostic="smtp; 550 5.7.1 Service unavailable; client "
            "[198.51.100.7] blocked using zen.spamhaus.org",
        ),
    )
    record = pipeline.tracker.get(sent) or {}
    assert record["status"] == "bounced"
    assert record["flag"].startswith("sender:")
    assert pipeline.suppressions.get("alice@example.net") is None


def test_bounces_ingest_repeated_mailbox_full_suppresses(pipeline: Pipeline) -> None:
    pipeline.settings = pipeline.settings.with_(suppress_soft_count=2)
    for n in range(2):
        nid = pipeline.handle_event(
            make_event(event_id=f"full-{n}", admin_email="full@example.net")
        ).notice_id
        _process(
            pipeline,
            make_dsn(
                to=envelope_sender(nid or "", pipeline.settings),
                recipient="full@example.net",
                status="5.2.2",
                diagnostic="smtp; 552 5.2.2 Mailbox full",
            ),
        )
        assert (pipeline.suppressions.get("full@example.net") is not None) == (n == 1)


def test_bounces_ingest_non_bounces_and_garbage_change_nothing(
    pipeline: Pipeline, sent: str
) -> None:
    for name in ("out_of_office.eml", "ordinary_mail.eml", "truncated_mime.eml"):
        _process(pipeline, (DATA / "bounces" / name).read_bytes())
    assert _process(pipeline, b"\x00\xff garbage \r\n\r\n--") == []
    assert (pipeline.tracker.get(sent) or {})["status"] == "sent"


def test_bounces_ingest_reads_eml_folders_maildir_and_mbox(tmp_path: Path) -> None:
    sample = make_dsn(to="x@example.com", recipient="a@example.net")
    (tmp_path / "one.eml").write_bytes(sample)
    maildir = mailbox.Maildir(str(tmp_path / "md"))
    maildir.add(sample)
    box = mailbox.mbox(str(tmp_path / "box.mbox"))
    box.add(sample)
    box.add(sample)
    box.close()
    assert len(list(read_messages(str(tmp_path / "one.eml")))) == 1
    assert len(list(read_messages(str(tmp_path / "md")))) == 1
    assert len(list(read_messages(str(tmp_path / "box.mbox")))) == 2


def test_bounces_ingest_success_dsn_for_an_unrecorded_send_stops_the_resend(
    pipeline: Pipeline,
) -> None:
    # The worker claimed the notice, the relay answered 250, and the worker died before it
    # wrote "sent": the notice is still queued and scheduled.
    nid = pipeline.accept(make_event(admin_email="dave@example.net")).notice_id or ""
    assert pipeline.tracker.claim(nid, 0.01).outcome == "ok"
    _process(
        pipeline,
        make_dsn(
            to=envelope_sender(nid, pipeline.settings),
            recipient="dave@example.net",
            action="delivered",
            status="2.0.0",
            diagnostic="",
        ),
    )
    assert (pipeline.tracker.get(nid) or {})["status"] == "delivered"
    assert pipeline.tracker.claim(nid, 60).outcome == "settled"
