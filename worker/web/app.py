"""The Flask app factory: shared state, blueprints, security hooks and error pages."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path

import redis
from flask import Flask, render_template

from worker.errors import StoreUnavailable
from worker.net import redact_url
from worker.notices.pipeline import Pipeline
from worker.notices.replay import replay_notice
from worker.render.renderer import Renderer
from worker.settings import Settings
from worker.web import charts, checks, live, masking, ops, preview, security, subscriptions
from worker.web.access import AccessLog
from worker.web.state import (
    EXTENSION,
    Enqueue,
    Publish,
    Replayer,
    WebState,
    default_enqueue,
    default_publish,
)

log = logging.getLogger(__name__)


def session_key(settings: Settings) -> str:
    """A key for the session cookie: derived from SECRET_KEY (never SECRET_KEY itself, which
    signs Return-Path tokens), or random per process when SECRET_KEY is unset."""
    if not settings.secret_key:
        return secrets.token_hex(32)
    return hmac.new(
        settings.secret_key.encode(), b"past-due-notices web session", hashlib.sha256
    ).hexdigest()


def create_app(
    settings: Settings,
    pipeline: Pipeline | None = None,
    *,
    template_dir: Path | None = None,
    enqueue: Enqueue | None = None,
    publish: Publish | None = None,
    replayer: Replayer | None = None,
) -> Flask:
    """The preview and ops app.

    ``template_dir`` overrides the notice templates folder; ``enqueue`` (notice id → send
    task), ``publish`` (event payload → queue) and ``replayer`` (``replay_notice``) default
    to the Celery app and ``worker.notices.replay``.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=session_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="pdn_session",
        MAX_CONTENT_LENGTH=256 * 1024,
        TEMPLATES_AUTO_RELOAD=True,
    )
    renderer = (
        pipeline.renderer
        if pipeline is not None and template_dir is None
        else Renderer(settings, template_dir=template_dir)
    )
    app.extensions[EXTENSION] = WebState(
        settings=settings,
        renderer=renderer,
        enqueue=enqueue or default_enqueue,
        publish=publish or default_publish,
        replayer=replayer or replay_notice,
        _pipeline=pipeline,
    )
    security.install(app, settings)
    masking.install(app)
    app.jinja_env.globals["LIVE_POLL_MS"] = live.POLL_MS
    app.register_blueprint(preview.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(checks.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(charts.bp)
    app.register_blueprint(subscriptions.bp)
    # Our own request log, masked, whatever server runs the app (waitress logs none).
    app.wsgi_app = AccessLog(app.wsgi_app, security.secrets_of(settings))  # type: ignore[method-assign]

    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(redis.RedisError)
    def store_down(exc: Exception) -> tuple[str, int]:
        log.warning("tracking store unavailable: %s", exc.__class__.__name__)
        return render_template(
            "error.html",
            title="Tracking store unavailable",
            message=(
                f"The tracking store at {redact_url(settings.redis_url)} is not "
                f"reachable ({exc.__class__.__name__}: {security.scrub(str(exc), settings)})."
                " The ops pages need it; the template previews work without it."
            ),
        ), 503

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return render_template(
            "error.html", title="Not found", message="There is nothing at this address."
        ), 404

    return app
