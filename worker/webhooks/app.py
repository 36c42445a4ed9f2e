"""The webhook endpoints: a small WSGI app with only POST /webhooks/<provider>."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from worker.settings import Settings
from worker.webhooks.apply import Done, WebhookApplier, refuse
from worker.webhooks.vocab import Provider, ProviderEvent, Refusal, Refused

log = logging.getLogger(__name__)

#: What SNS sends its JSON as; every other provider says application/json.
_JSON_TYPES = {"application/json"}
_SNS_TYPES = {"application/json", "text/plain"}


class Endpoint(Protocol):
    """One provider: verifies a request and gives its events (raises Refused)."""

    def events(self, raw: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]: ...


def _answer(status: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def create_app(
    settings: Settings, endpoints: Mapping[Provider, Endpoint], applier: WebhookApplier
) -> Flask:
    """The app; a provider without an entry in ``endpoints`` (its setting empty) is a 404."""
    app = Flask("worker.webhooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.webhook_max_bytes

    @app.post("/webhooks/<name>")
    def webhook(name: str) -> Response:
        try:
            provider = Provider(name)
        except ValueError:
            return _answer(404, error="no such endpoint")
        endpoint = endpoints.get(provider)
        if endpoint is None:
            return _answer(404, error="no such endpoint")
        allowed = _SNS_TYPES if provider is Provider.SES else _JSON_TYPES
        if request.mimetype not in allowed:
            return _answer(415, error="JSON only")
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _answer(
                413, error=f"larger than WEBHOOK_MAX_BYTES ({settings.webhook_max_bytes})"
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            events = endpoint.events(raw, headers)
        except Refused as exc:
            refuse(str(provider), exc)
            response = _answer(int(exc.http_status), error=exc.why)
            if provider is Provider.POSTMARK and exc.refusal is Refusal.SIGNATURE:
                response.headers["WWW-Authenticate"] = 'Basic realm="webhooks"'
            return response
        result = applier.apply_all(events)
        summary = result.summary()
        if result.refusals and not result.count(Done.APPLIED) and not result.count(Done.DUPLICATE):
            first = result.refusals[0]
            return _answer(int(first.http_status), error=first.why, **summary)
        return _answer(200, **summary)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _answer(exc.code or 500, error=exc.name)

    return app
