"""Webhook verification parts on their own: SNS hosts and certificates, settings, headers."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.support.bounces import processor
from tests.support.webhooks import CERT_URL, TOPIC, SnsSigner, ses_event, sns_notification
from worker.errors import ConfigurationError
from worker.notices.pipeline import Pipeline
from worker.settings import Settings, from_env
from worker.smtp.proof import POSTMARK_METADATA, provider_headers, verify_envelope_id
from worker.webhooks.server import build_app
from worker.webhooks.sns import Certificates, sns_url, verify_message
from worker.webhooks.vocab import Refusal, Refused


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", True),
        ("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem", True),
        ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem", False),
        ("https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://my-bucket.s3.us-east-1.amazonaws.com/SimpleNotificationService-1.pem", False),
        ("https://sns.us-east-1.amazonaws.com.evil.example/x.pem", False),
        ("https://sns.amazonaws.com/x.pem", False),
        ("https://user@sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:8443/x.pem", False),
    ],
)
def test_webhooks_sns_url_only_on_sns_hosts(url: str, ok: bool) -> None:
    assert sns_url(url) is ok


def test_webhooks_sns_certificate_is_fetched_once(tmp_path: Path) -> None:
    signer = SnsSigner(tmp_path)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return signer.pem

    certificates = Certificates(None, fetch)
    for _ in range(3):
        message = signer.sign(sns_notification(ses_event("Delivery", "<x@y>", "a@example.net")))
        verify_message(message, certificates, (TOPIC,))
    assert fetched == [CERT_URL]


def test_webhooks_sns_topic_is_checked_before_anything_is_fetched(tmp_path: Path) -> None:
    signer = SnsSigner(tmp_path)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return signer.pem

    certificates = Certificates(None, fetch)
    message = signer.sign(sns_notification(ses_event("Bounce", "<x@y>", "a@example.net")))
    with pytest.raises(Refused) as caught:
        verify_message(message, certificates, ("arn:aws:sns:us-east-1:123456789012:other",))
    assert caught.value.refusal is Refusal.TOPIC
    assert fetched == []


def test_webhooks_sns_unknown_signature_version_is_refused(tmp_path: Path) -> None:
    signer = SnsSigner(tmp_path)
    message = signer.sign(sns_notification(ses_event("Bounce", "<x@y>", "a@example.net")))
    message["SignatureVersion"] = "3"
    with pytest.raises(Refused) as caught:
        verify_message(message, Certificates(str(tmp_path)), (TOPIC,))
    assert caught.value.refusal is Refusal.SIGNATURE


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SES_TOPIC_ARNS", "not-an-arn"),
        ("SES_TOPIC_ARNS", "arn:aws:sns:us-east-1:123:short-account"),
        ("SENDGRID_WEBHOOK_PUBLIC_KEY", "not base64!"),
        ("SMTP_PROVIDER", "sparkpost"),
        ("WEBHOOK_MAX_BYTES", "10"),
    ],
)
def test_webhooks_settings_bad_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        from_env({name: value})


def test_webhooks_settings_sendgrid_key_must_be_an_ecdsa_key(
    settings: Settings, fake_redis: Any
) -> None:
    config = settings.with_(sendgrid_webhook_public_key=base64.b64encode(b"junk").decode())
    with pytest.raises(ConfigurationError, match="SENDGRID_WEBHOOK_PUBLIC_KEY"):
        build_app(processor(Pipeline(config, fake_redis)), config)


def test_webhooks_settings_postmark_user_needs_its_password(
    settings: Settings, fake_redis: Any
) -> None:
    config = settings.with_(postmark_webhook_user="hooks")
    with pytest.raises(ConfigurationError, match="POSTMARK_WEBHOOK_PASSWORD"):
        build_app(processor(Pipeline(config, fake_redis)), config)


def test_webhooks_postmark_header_only_for_postmark(settings: Settings) -> None:
    notice_id = "a" * 20
    assert provider_headers(notice_id, settings) == []
    [(name, value)] = provider_headers(notice_id, settings.with_(smtp_provider="postmark"))
    assert name == POSTMARK_METADATA
    found = verify_envelope_id(value, settings)
    assert found is not None and found.notice_id == notice_id


def test_webhooks_secrets_are_masked_in_logs(settings: Settings) -> None:
    config = settings.with_(
        mailgun_webhook_signing_key="mg-signing-key", postmark_webhook_password="pm-pass"
    )
    assert {"mg-signing-key", "pm-pass"} <= set(config.secret_values())
