"""No report changes a notice, the suppression list or a counter without proof we issued."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.bounces import make_arf, make_dsn, processor
from tests.support.events import make_event
from worker import metrics
from worker.bounces.ingest import Outcome
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.proof import (
    envelope_id,
    envelope_sender,
    message_id,
    previous_key_days,
    verify_envelope_id,
    verify_message_id,
)
from worker.smtp.server import ServerThread

RCPT = "alice@example.net"


@pytest.fixture
def pipeline(settings: Settings, fake_redis: Any, smtp_server: ServerThread) -> Pipeline:
    return Pipeline(settings.with_(smtp_url=smtp_server.url), fake_redis)


@pytest.fixture
def sent(pipeline: Pipeline) -> str:
    intake = pipeline.handle_event(make_event(admin_email=RCPT))
    assert intake.status == "sent"
    return intake.notice_id or ""


def _status(pipeline: Pipeline, notice_id: str) -> str:
    return (pipeline.tracker.get(notice_id) or {}).get("status", "")


def _bounces_counted() -> float:
    return sum(
        sample.value
        for family in metrics.BOUNCES.collect()
        for sample in family.samples
        if sample.name == "bounces_total"
    )


@pytest.mark.parametrize("clue", ["envid", "message-id", "address"])
def test_bounces_proof_unsigned_clues_are_listed_never_applied(
    pipeline: Pipeline, sent: str, clue: str
) -> None:
    # What anyone who knows an event id can compute: the bare notice id as ENVID, the old
    # unsigned Message-ID, or just the address. Sent to the bounce address without a token.
    kwargs: dict[str, Any] = {"to": "bounces@example.com", "recipient": RCPT}
    if clue == "envid":
        kwargs["envid"] = sent
    elif clue == "message-id":
        kwargs["message_id"] = f"<{sent}.0@example.com>"
    before = _bounces_counted()
    [result] = processor(pipeline).process(make_dsn(**kwargs), ["bounces@example.com"])
    assert result.effect is Outcome.UNMATCHED and result.notice_id is None
    assert _status(pipeline, sent) == "sent"
    assert pipeline.suppressions.get(RCPT) is None
    assert _bounces_counted() == before
    [entry] = processor(pipeline).unmatched()
    assert entry["why"] == "no proof"
    assert (entry["candidate"], entry["candidate_by"]) == (sent, clue)


@pytest.mark.parametrize("proof", ["envid", "message-id", "returned-token"])
def test_bounces_proof_signed_values_tie_back(pipeline: Pipeline, sent: str, proof: str) -> None:
    settings = pipeline.settings
    kwargs: dict[str, Any] = {"to": "postmaster@example.com", "recipient": RCPT}
    if proof == "envid":
        kwargs["envid"] = envelope_id(sent, settings)
    elif proof == "message-id":
        kwargs["message_id"] = (pipeline.tracker.get(sent) or {})["message_id"]
    else:
        kwargs["return_path"] = envelope_sender(sent, settings)
    [result] = processor(pipeline).process(make_dsn(**kwargs))
    assert (result.notice_id, result.matched_by, result.effect) == (sent, proof, "bounced")
    assert pipeline.suppressions.get(RCPT) is not None


def test_bounces_proof_the_sent_mail_carries_the_signed_values(
    pipeline: Pipeline, sent: str, recorder: Any
) -> None:
    [(sender, _, data)] = recorder.messages
    [envid] = [o for opts in recorder.mail_options for o in opts if o.startswith("ENVID=")]
    assert verify_envelope_id(envid[len("ENVID=") :], pipeline.settings).notice_id == sent  # type: ignore[union-attr]
    header = next(
        line for line in data.decode().splitlines() if line.lower().startswith("message-id:")
    )
    assert verify_message_id(header.split(":", 1)[1], pipeline.settings).notice_id == sent  # type: ignore[union-attr]
    assert sender.startswith("bounces+" + sent)


@pytest.mark.parametrize("where", ["envid", "message-id"])
def test_bounces_proof_tampered_signed_values_are_forged(
    pipeline: Pipeline, sent: str, where: str
) -> None:
    settings = pipeline.settings
    kwargs: dict[str, Any] = {"to": "postmaster@example.com", "recipient": RCPT}
    if where == "envid":
        kwargs["envid"] = envelope_id(sent, settings)[:-1] + "0"
    else:
        mid = message_id(sent, 0, settings)
        kwargs["message_id"] = mid[: mid.index("@") - 1] + "0" + mid[mid.index("@") :]
    [result] = processor(pipeline).process(make_dsn(**kwargs))
    assert result.effect is Outcome.FORGED
    assert _status(pipeline, sent) == "sent"


def test_bounces_proof_a_valid_token_bounces_only_the_notices_own_address(
    pipeline: Pipeline, sent: str
) -> None:
    # One DSN with a genuine token and twenty other recipients must not suppress twenty
    # customers: only the report about the notice's own address is applied.
    token = envelope_sender(sent, pipeline.settings)
    others = tuple(f"victim{i}@example.org" for i in range(20))
    results = processor(pipeline).process(make_dsn(to=token, recipient=RCPT, also=others), [token])
    assert [r.effect for r in results].count(Outcome.BOUNCED) == 1
    assert {r.effect for r in results[1:]} == {Outcome.UNMATCHED}
    assert pipeline.suppressions.count() == 1 and pipeline.suppressions.get(RCPT) is not None


def test_bounces_proof_a_report_about_another_address_is_not_applied(
    pipeline: Pipeline, sent: str
) -> None:
    token = envelope_sender(sent, pipeline.settings)
    [result] = processor(pipeline).process(make_dsn(to=token, recipient="victim@example.org"))
    assert result.effect is Outcome.UNMATCHED
    assert _status(pipeline, sent) == "sent" and pipeline.suppressions.count() == 0
    assert processor(pipeline).unmatched()[0]["why"] == "recipient is not the notice's address"


def test_bounces_proof_for_a_notice_that_does_not_exist_is_not_applied(
    pipeline: Pipeline,
) -> None:
    token = envelope_sender("f" * 20, pipeline.settings)
    [result] = processor(pipeline).process(make_dsn(to=token, recipient=RCPT))
    assert result.effect is Outcome.UNMATCHED and pipeline.suppressions.count() == 0


def test_bounces_proof_success_report_for_a_never_sent_notice_is_not_believed(
    pipeline: Pipeline,
) -> None:
    # Queued but never handed to a relay: a "delivered" DSN cannot be genuine, and believing
    # it would mean the notice is never sent.
    intake = pipeline.accept(make_event(admin_email=RCPT))
    notice = intake.notice_id or ""
    token = envelope_sender(notice, pipeline.settings)
    dsn = make_dsn(to=token, recipient=RCPT, action="delivered", status="2.0.0", diagnostic="")
    [result] = processor(pipeline).process(dsn)
    assert result.effect is Outcome.RECORDED
    assert _status(pipeline, notice) == "queued"


def test_bounces_proof_previous_key_verifies_within_its_window(
    pipeline: Pipeline, sent: str
) -> None:
    old = pipeline.settings
    new = old.with_(secret_key="a-new-key-0123456789abcdef", secret_key_previous=old.secret_key)
    token = envelope_sender(sent, old)
    rotated = Pipeline(new, pipeline.r)
    [result] = processor(rotated).process(make_dsn(to=token, recipient=RCPT))
    assert result.effect is Outcome.BOUNCED
    # Past the retry schedule plus a week, the previous key no longer verifies.
    later = time.time() + (previous_key_days(new) + 1) * 86400
    assert verify_envelope_id(envelope_id(sent, old, now=time.time()), new, now=later) is None
    assert verify_envelope_id(envelope_id(sent, old), new) is not None
    # Without SECRET_KEY_PREVIOUS, the old key's values are forgeries.
    without = Pipeline(new.with_(secret_key_previous=None), pipeline.r)
    assert verify_envelope_id(envelope_id(sent, old), without.settings) is None


def test_bounces_proof_complaint_suppresses_and_keeps_the_status(
    pipeline: Pipeline, sent: str
) -> None:
    mid = (pipeline.tracker.get(sent) or {})["message_id"]
    arf = make_arf(to="fbl@example.com", complainer=RCPT, message_id=mid)
    [result] = processor(pipeline).process(arf)
    assert (result.effect, result.matched_by) == (Outcome.COMPLAINT, "message-id")
    assert _status(pipeline, sent) == "sent"
    entry = pipeline.tracker.history(sent)[-1]
    assert entry["kind"] == "complaint" and entry["report"]["reason"] == "feedback"
    suppressed = pipeline.suppressions.get(RCPT) or {}
    assert suppressed["reason"] == "feedback"


def test_bounces_proof_complaint_without_proof_changes_nothing(
    pipeline: Pipeline, sent: str
) -> None:
    arf = make_arf(to="fbl@example.com", complainer=RCPT, message_id=f"<{sent}.0@example.com>")
    [result] = processor(pipeline).process(arf)
    assert result.effect is Outcome.UNMATCHED
    assert pipeline.suppressions.get(RCPT) is None


def test_bounces_proof_history_and_recipients_are_bounded(
    settings: Settings, fake_redis: Any, smtp_server: ServerThread
) -> None:
    pipeline = Pipeline(
        settings.with_(smtp_url=smtp_server.url, bounce_max_recipients=5, bounce_max_history=12),
        fake_redis,
    )
    notice = pipeline.handle_event(make_event(admin_email=RCPT)).notice_id or ""
    token = envelope_sender(notice, pipeline.settings)
    dsn = make_dsn(to=token, recipient=RCPT, action="delayed", status="4.4.1", diagnostic="")
    for _ in range(30):
        processor(pipeline).process(dsn)
    assert len(pipeline.tracker.history(notice)) == 12
    many = make_dsn(to=token, recipient=RCPT, also=tuple(f"x{i}@example.org" for i in range(50)))
    results = processor(pipeline).process(many)
    assert len(results) == 51
    assert sum(r.effect is Outcome.SKIPPED for r in results) == 46
