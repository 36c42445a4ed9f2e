"""Provider webhooks: each provider's events applied, every forged request refused."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from tests.support.bounces import processor
from tests.support.events import make_event
from tests.support.smtpd import Recorder
from tests.support.webhooks import (
    MAILGUN_KEY,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    TOPIC,
    SendGridSigner,
    SnsSigner,
    mailgun_body,
    mailgun_event,
    postmark_auth,
    postmark_event,
    sendgrid_event,
    ses_event,
    sns_confirmation,
    sns_notification,
)
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.proof import envelope_id, message_id
from worker.smtp.server import ServerThread
from worker.webhooks.server import build_app

ADDRESS = "alice@example.net"


class Hooks:
    """The webhook app over an in-memory store, with one sent notice."""

    def __init__(self, pipeline: Pipeline, client: FlaskClient, fetched: list[str]) -> None:
        self.pipeline = pipeline
        self.client = client
        self.fetched = fetched
        intake = pipeline.handle_event(make_event(admin_email=ADDRESS))
        assert intake.status == "sent"
        self.notice_id = intake.notice_id or ""
        self.message_id = self.record()["message_id"]

    def record(self) -> dict[str, str]:
        return self.pipeline.tracker.get(self.notice_id) or {}

    def history(self) -> list[dict[str, Any]]:
        return self.pipeline.tracker.history(self.notice_id)

    def post(self, provider: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            f"/webhooks/{provider}",
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        )


@pytest.fixture
def sns(tmp_path: Path) -> SnsSigner:
    return SnsSigner(tmp_path)


@pytest.fixture
def sendgrid() -> SendGridSigner:
    return SendGridSigner()


@pytest.fixture
def hooks(
    settings: Settings,
    fake_redis: Any,
    smtp_server: ServerThread,
    sns: SnsSigner,
    sendgrid: SendGridSigner,
) -> Iterator[Hooks]:
    config = settings.with_(
        smtp_url=smtp_server.url,
        ses_topic_arns=(TOPIC,),
        sns_cert_dir=str(sns.cert_dir),
        sendgrid_webhook_public_key=sendgrid.public_b64,
        mailgun_webhook_signing_key=MAILGUN_KEY,
        postmark_webhook_user=POSTMARK_USER,
        postmark_webhook_password=POSTMARK_PASSWORD,
        smtp_provider="postmark",
        webhook_max_bytes=64 * 1024,
    )
    pipeline = Pipeline(config, fake_redis)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return b"<ConfirmSubscriptionResponse/>"

    app, _ = build_app(processor(pipeline), config, fetch=fetch)
    yield Hooks(pipeline, app.test_client(), fetched)


def refusals(provider: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "webhook_refusals_total", {"provider": provider, "reason": reason}
    )
    return value or 0.0


# -- SES via SNS ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1", "2"])
def test_webhooks_ses_bounce_bounces_and_suppresses(
    hooks: Hooks, sns: SnsSigner, version: str
) -> None:
    body = sns.sign(sns_notification(ses_event("Bounce", hooks.message_id, ADDRESS)), version)
    reply = hooks.post("ses", body, {"Content-Type": "text/plain; charset=UTF-8"})
    assert reply.status_code == 200, reply.json
    record = hooks.record()
    assert record["status"] == "bounced"
    bounce = json.loads(record["bounce"])
    assert (bounce["status"], bounce["reason"], bounce["kind"]) == ("5.1.1", "userunknown", "hard")
    assert hooks.pipeline.suppressions.get(ADDRESS) is not None
    entry = hooks.history()[-1]
    assert entry["webhook"]["provider"] == "ses"
    assert entry["webhook"]["subtype"] == "Permanent/General"
    assert '"bounceType":"Permanent"' in entry["webhook"]["raw"]


def test_webhooks_ses_delivery_then_late_delay_keeps_delivered(
    hooks: Hooks, sns: SnsSigner
) -> None:
    delivered = sns.sign(sns_notification(ses_event("Delivery", hooks.message_id, ADDRESS)), "2")
    assert hooks.post("ses", delivered).status_code == 200
    assert hooks.record()["status"] == "delivered"
    late = sns.sign(sns_notification(ses_event("DeliveryDelay", hooks.message_id, ADDRESS)))
    assert hooks.post("ses", late).status_code == 200
    assert hooks.record()["status"] == "delivered"
    assert hooks.history()[-1]["report"]["action"] == "delayed"


def test_webhooks_ses_complaint_suppresses_and_keeps_the_status(
    hooks: Hooks, sns: SnsSigner
) -> None:
    body = sns.sign(sns_notification(ses_event("Complaint", hooks.message_id, ADDRESS)))
    assert hooks.post("ses", body).status_code == 200
    assert hooks.record()["status"] == "sent"
    assert hooks.history()[-1]["kind"] == "complaint"
    assert (hooks.pipeline.suppressions.get(ADDRESS) or {})["reason"] == "feedback"


def test_webhooks_ses_redelivered_notification_is_applied_once(
    hooks: Hooks, sns: SnsSigner
) -> None:
    body = sns.sign(sns_notification(ses_event("Complaint", hooks.message_id, ADDRESS)))
    assert hooks.post("ses", body).json["applied"] == 1
    before = len(hooks.history())
    again = hooks.post("ses", body)
    assert (again.status_code, again.json["duplicate"]) == (200, 1)
    assert len(hooks.history()) == before


def test_webhooks_ses_subscription_is_confirmed_only_for_an_allowed_topic(
    hooks: Hooks, sns: SnsSigner
) -> None:
    assert hooks.post("ses", sns.sign(sns_confirmation())).status_code == 200
    assert len(hooks.fetched) == 1
    assert hooks.fetched[0].startswith("https://sns.us-east-1.amazonaws.com/?Action=Confirm")
    other = "arn:aws:sns:us-east-1:123456789012:someone-else"
    assert hooks.post("ses", sns.sign(sns_confirmation(topic=other))).status_code == 403
    off_host = sns_confirmation(subscribe_url="https://evil.example/?Action=ConfirmSubscription")
    assert hooks.post("ses", sns.sign(off_host)).status_code == 403
    assert len(hooks.fetched) == 1


def _ses_bounce(hooks: Hooks, **changes: Any) -> dict[str, Any]:
    return {**sns_notification(ses_event("Bounce", hooks.message_id, ADDRESS)), **changes}


@pytest.mark.parametrize(
    ("forge", "status", "reason"),
    [
        ("wrong signature", 401, "signature"),
        ("certificate on an S3 bucket", 403, "cert-url"),
        ("certificate over http", 403, "cert-url"),
        ("topic not allowed", 403, "topic"),
        ("raw delivery", 403, "raw-delivery"),
        ("unknown certificate", 403, "cert"),
    ],
)
def test_webhooks_ses_forged_requests_are_refused(
    hooks: Hooks, sns: SnsSigner, forge: str, status: int, reason: str
) -> None:
    before = refusals("ses", reason)
    headers: dict[str, str] = {}
    body: Any
    if forge == "wrong signature":
        body = sns.sign(_ses_bounce(hooks))
        body["Message"] = body["Message"].replace("Permanent", "Transient")
    elif forge == "certificate on an S3 bucket":
        url = "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"
        body = sns.sign(_ses_bounce(hooks), cert_url=url)
    elif forge == "certificate over http":
        body = sns.sign(_ses_bounce(hooks), cert_url="http://sns.us-east-1.amazonaws.com/c.pem")
    elif forge == "topic not allowed":
        body = sns.sign(_ses_bounce(hooks, TopicArn="arn:aws:sns:us-east-1:999999999999:x"))
    elif forge == "raw delivery":
        body = ses_event("Bounce", hooks.message_id, ADDRESS)
        headers["x-amz-sns-rawdelivery"] = "true"
    else:
        body = sns.sign(
            _ses_bounce(hooks), cert_url="https://sns.eu-west-1.amazonaws.com/Other-1234.pem"
        )
    reply = hooks.post("ses", body, headers)
    assert reply.status_code == status, reply.json
    assert hooks.record()["status"] == "sent"
    assert hooks.pipeline.suppressions.get(ADDRESS) is None
    assert refusals("ses", reason) == before + 1
    if forge == "raw delivery":
        assert "raw message delivery" in reply.json["error"]


# -- SendGrid ------------------------------------------------------------------------------
def _sendgrid(hooks: Hooks, sendgrid: SendGridSigner, events: list[dict[str, Any]]) -> Any:
    body = json.dumps(events).encode()
    return hooks.post("sendgrid", body, sendgrid.headers(body))


def test_webhooks_sendgrid_bounce_bounces_and_a_retry_changes_nothing(
    hooks: Hooks, sendgrid: SendGridSigner
) -> None:
    processed = sendgrid_event("processed", hooks.message_id, ADDRESS)
    bounce = sendgrid_event("bounce", hooks.message_id, ADDRESS)
    reply = _sendgrid(hooks, sendgrid, [processed, bounce])
    assert (reply.status_code, reply.json["applied"]) == (200, 1)
    bounced = json.loads(hooks.record()["bounce"])
    assert (bounced["reason"], bounced["kind"]) == ("userunknown", "hard")
    assert hooks.pipeline.suppressions.get(ADDRESS) is not None
    length = len(hooks.history())
    assert _sendgrid(hooks, sendgrid, [bounce]).json["duplicate"] == 1
    assert len(hooks.history()) == length


def test_webhooks_sendgrid_delivered_and_open_are_recorded(
    hooks: Hooks, sendgrid: SendGridSigner
) -> None:
    events = [
        sendgrid_event("delivered", hooks.message_id, ADDRESS),
        sendgrid_event("open", hooks.message_id, ADDRESS, useragent="Mail"),
    ]
    assert _sendgrid(hooks, sendgrid, events).json["applied"] == 2
    assert hooks.record()["status"] == "delivered"
    assert hooks.history()[-1]["kind"] == "opened"
    assert hooks.history()[-1]["status"] == "delivered"


@pytest.mark.parametrize("forge", ["wrong signature", "re-serialized body", "no headers"])
def test_webhooks_sendgrid_forged_requests_are_refused(
    hooks: Hooks, sendgrid: SendGridSigner, forge: str
) -> None:
    events = [sendgrid_event("bounce", hooks.message_id, ADDRESS)]
    body = json.dumps(events).encode()
    headers = sendgrid.headers(body)
    if forge == "wrong signature":
        headers = SendGridSigner().headers(body)
    elif forge == "re-serialized body":
        body = json.dumps(json.loads(body), indent=1).encode()  # same JSON, other bytes
    else:
        headers = {}
    before = refusals("sendgrid", "signature")
    assert hooks.post("sendgrid", body, headers).status_code == 401
    assert hooks.record()["status"] == "sent"
    assert refusals("sendgrid", "signature") == before + 1


# -- Mailgun -------------------------------------------------------------------------------
def test_webhooks_mailgun_permanent_failure_bounces_temporary_defers(hooks: Hooks) -> None:
    temporary = mailgun_event("failed", hooks.message_id, ADDRESS, severity="temporary")
    assert hooks.post("mailgun", mailgun_body(temporary)).status_code == 200
    assert hooks.record()["status"] == "deferred"
    permanent = mailgun_event("failed", hooks.message_id, ADDRESS)
    assert hooks.post("mailgun", mailgun_body(permanent)).status_code == 200
    assert hooks.record()["status"] == "bounced"
    assert json.loads(hooks.record()["bounce"])["reason"] == "userunknown"


@pytest.mark.parametrize(
    ("forge", "status", "reason"),
    [
        ("wrong key", 401, "signature"),
        ("stale timestamp", 403, "stale"),
        ("replayed token", 403, "replay"),
    ],
)
def test_webhooks_mailgun_forged_requests_are_refused(
    hooks: Hooks, forge: str, status: int, reason: str
) -> None:
    event = mailgun_event("failed", hooks.message_id, ADDRESS)
    if forge == "wrong key":
        body = mailgun_body(event, key="not-the-key")
    elif forge == "stale timestamp":
        body = mailgun_body(event, timestamp=int(time.time()) - 301)
    else:
        delivered = mailgun_event("delivered", hooks.message_id, ADDRESS)
        first = mailgun_body(delivered, token="t" * 50)
        assert hooks.post("mailgun", first).status_code == 200
        body = mailgun_body(event, token="t" * 50)  # a fresh signature, an old token
    before = refusals("mailgun", reason)
    assert hooks.post("mailgun", body).status_code == status
    assert hooks.record()["status"] in ("sent", "delivered")
    assert hooks.pipeline.suppressions.get(ADDRESS) is None
    assert refusals("mailgun", reason) == before + 1


# -- Postmark ------------------------------------------------------------------------------
def test_webhooks_postmark_header_is_on_the_sent_mail(hooks: Hooks, recorder: Recorder) -> None:
    [(_, _, raw)] = recorder.messages
    token = envelope_id(hooks.notice_id, hooks.pipeline.settings)
    assert f"X-PM-Metadata-notice: {token}".encode() in raw


def test_webhooks_postmark_bounce_and_complaint_by_the_metadata_token(hooks: Hooks) -> None:
    token = envelope_id(hooks.notice_id, hooks.pipeline.settings)
    complaint = postmark_event("SpamComplaint", token, ADDRESS)
    assert hooks.post("postmark", complaint, postmark_auth()).status_code == 200
    assert hooks.history()[-1]["kind"] == "complaint"
    bounce = postmark_event("Bounce", token, ADDRESS)
    assert hooks.post("postmark", bounce, postmark_auth()).status_code == 200
    assert hooks.record()["status"] == "bounced"


def test_webhooks_postmark_delivery_delivers(hooks: Hooks) -> None:
    token = envelope_id(hooks.notice_id, hooks.pipeline.settings)
    reply = hooks.post("postmark", postmark_event("Delivery", token, ADDRESS), postmark_auth())
    assert reply.status_code == 200
    assert hooks.record()["status"] == "delivered"


@pytest.mark.parametrize("forge", ["wrong password", "no auth", "forged token", "no token"])
def test_webhooks_postmark_forged_requests_are_refused(hooks: Hooks, forge: str) -> None:
    token: str | None = envelope_id(hooks.notice_id, hooks.pipeline.settings)
    auth = postmark_auth()
    if forge == "wrong password":
        auth = postmark_auth(password="guess")
    elif forge == "no auth":
        auth = {}
    elif forge == "forged token":
        token = (token or "")[:-4] + ("0000" if not (token or "").endswith("0000") else "1111")
    else:
        token = None
    reply = hooks.post("postmark", postmark_event("Bounce", token, ADDRESS), auth)
    assert reply.status_code == (401 if "auth" in forge or "password" in forge else 403)
    assert hooks.record()["status"] == "sent"
    if reply.status_code == 401:
        assert reply.headers["WWW-Authenticate"].startswith("Basic")


# -- every provider ------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["ses", "sendgrid", "mailgun", "postmark"])
@pytest.mark.parametrize("which", ["a notice that does not exist", "a forged Message-ID"])
def test_webhooks_events_without_a_real_notice_are_refused(
    hooks: Hooks, sns: SnsSigner, sendgrid: SendGridSigner, provider: str, which: str
) -> None:
    settings = hooks.pipeline.settings
    missing = "0" * 20
    if which == "a notice that does not exist":
        mid, token = message_id(missing, 0, settings), envelope_id(missing, settings)
    else:
        mid = hooks.message_id.replace(hooks.message_id[-20:-16], "abcd")
        token = envelope_id(hooks.notice_id, settings)[:-1] + "x"
    if provider == "ses":
        reply = hooks.post("ses", sns.sign(sns_notification(ses_event("Bounce", mid, ADDRESS))))
    elif provider == "sendgrid":
        reply = _sendgrid(hooks, sendgrid, [sendgrid_event("bounce", mid, ADDRESS)])
    elif provider == "mailgun":
        reply = hooks.post("mailgun", mailgun_body(mailgun_event("failed", mid, ADDRESS)))
    else:
        reply = hooks.post("postmark", postmark_event("Bounce", token, ADDRESS), postmark_auth())
    assert reply.status_code == 403, reply.json
    assert hooks.record()["status"] == "sent"
    assert hooks.pipeline.suppressions.get(ADDRESS) is None


def test_webhooks_refusals_are_logged_without_addresses(
    hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    event = mailgun_event("failed", message_id("0" * 20, 0, hooks.pipeline.settings), ADDRESS)
    assert hooks.post("mailgun", mailgun_body(event)).status_code == 403
    text = caplog.text
    assert "refused (no-notice" in text
    assert ADDRESS not in text and "alice" not in text


def test_webhooks_request_shape_is_checked(hooks: Hooks, settings: Settings) -> None:
    assert hooks.post("mailgun", b"not json").status_code == 400
    plain = hooks.client.post("/webhooks/mailgun", data=b"{}", content_type="text/plain")
    assert plain.status_code == 415
    big = b"[" + b" " * (64 * 1024) + b"]"
    assert hooks.post("sendgrid", big).status_code == 413
    assert hooks.client.get("/webhooks/ses").status_code == 405
    assert hooks.post("other", {}).status_code == 404
    assert hooks.client.post("/", data=b"{}", content_type="application/json").status_code == 404


def test_webhooks_endpoint_without_its_setting_answers_404(
    settings: Settings, fake_redis: Any
) -> None:
    app, served = build_app(processor(Pipeline(settings, fake_redis)), settings)
    assert served == {}
    client = app.test_client()
    for provider in ("ses", "sendgrid", "mailgun", "postmark"):
        reply = client.post(f"/webhooks/{provider}", json={})
        assert reply.status_code == 404, provider
