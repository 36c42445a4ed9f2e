"""Build the webhook service from the settings: one endpoint per configured provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from worker.bounces.ingest import BounceProcessor
from worker.errors import ConfigurationError
from worker.notices.connection import RedisClient
from worker.settings import Settings
from worker.web.server import Server, make_server
from worker.webhooks.app import Endpoint, create_app
from worker.webhooks.apply import WebhookApplier
from worker.webhooks.mailgun import MailgunEndpoint
from worker.webhooks.postmark import PostmarkEndpoint
from worker.webhooks.sendgrid import SendGridEndpoint, load_key
from worker.webhooks.ses import SesEndpoint
from worker.webhooks.sns import Certificates, Fetch, fetch_https
from worker.webhooks.vocab import Provider


def endpoints(
    settings: Settings, client: RedisClient, fetch: Fetch = fetch_https
) -> dict[Provider, Endpoint]:
    """The providers whose settings are set (any other endpoint answers 404)."""
    found: dict[Provider, Endpoint] = {}
    if settings.ses_topic_arns:
        certificates = Certificates(settings.sns_cert_dir, fetch)
        found[Provider.SES] = SesEndpoint(settings.ses_topic_arns, certificates, fetch)
    if settings.sendgrid_webhook_public_key:
        found[Provider.SENDGRID] = SendGridEndpoint(load_key(settings.sendgrid_webhook_public_key))
    if settings.mailgun_webhook_signing_key:
        found[Provider.MAILGUN] = MailgunEndpoint(settings.mailgun_webhook_signing_key, client)
    user, password = settings.postmark_webhook_user, settings.postmark_webhook_password
    if bool(user) != bool(password):
        raise ConfigurationError(
            "POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD are set together or not at all"
        )
    if user and password:
        found[Provider.POSTMARK] = PostmarkEndpoint(user, password)
    return found


def build_app(
    processor: BounceProcessor, settings: Settings, fetch: Fetch = fetch_https
) -> tuple[Flask, Mapping[Provider, Endpoint]]:
    served = endpoints(settings, processor.tracker.r, fetch)
    return create_app(settings, served, WebhookApplier(processor, settings)), served


def serve(app: Flask, settings: Settings, host: str, port: int, **adjustments: Any) -> Server:
    """A waitress server for the app; bodies past WEBHOOK_MAX_BYTES are cut off there too."""
    return make_server(
        app, host, port, max_request_body_size=settings.webhook_max_bytes, **adjustments
    )
