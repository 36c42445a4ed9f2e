"""The Flask app factory: shared state, blueprints, security hooks and error pages."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app, render_template

from worker.notices.pipeline import Pipeline
from worker.render.renderer import Renderer
from worker.settings import Settings

log = logging.getLogger(__name__)

#: The key under ``app.extensions`` that holds the WebState.
EXTENSION = "notices_web"

Enqueue = Callable[[str], Any]
Publish = Callable[[Any], Any]
Replayer = Callable[..., Any]


class StoreUnavailable(Exception):
    """The tracking store cannot be reached (or its URL cannot even be used)."""


def redact_url(url: str) -> str:
    """The URL without its password (``redis://:***@host``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(unparsable URL)"
    return url.replace(f":{password}@", ":***@") if password else url


def _default_enqueue(notice_id: str) -> Any:
    from worker.runtime.celery_app import app as celery_app

    return celery_app.send_task("notices.send", args=[notice_id, True])


def _default_publish(payload: Any) -> Any:
    from worker.intake import producer as intake
    from worker.runtime.celery_app import app as celery_app

    return intake.publish(celery_app, payload)


def _default_replayer(*args: Any, **kwargs: Any) -> Any:
    from worker.notices.replay import replay_notice

    return replay_notice(*args, **kwargs)


@dataclass
class WebState:
    """What every page needs: settings, the renderer and (lazily) the tracking store."""

    settings: Settings
    renderer: Renderer
    enqueue: Enqueue
    publish: Publish
    replayer: Replayer
    _pipeline: Pipeline | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pipeline(self) -> Pipeline:
        """The pipeline (created on first use; preview pages never call this)."""
        with self._lock:
            if self._pipeline is None:
                try:
                    self._pipeline = Pipeline(self.settings, renderer=self.renderer)
                except (ValueError, redis.RedisError) as exc:
                    raise StoreUnavailable(str(exc)) from exc
            return self._pipeline


def state() -> WebState:
    """The WebState of the current app."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def session_key(settings: Settings) -> str:
    """A key for the session cookie: derived from SECRET_KEY (never SECRET_KEY itself, which
    signs Return-Path tokens), or random per process when SECRET_KEY is unset."""
    if not settings.secret_key:
        return secrets.token_hex(32)
    return hmac.new(settings.secret_key.encode(), b"past-due-notices web session",
                    hashlib.sha256).hexdigest()


def create_app(settings: Settings, pipeline: Pipeline | None = None, *,
               template_dir: Path | None = None, enqueue: Enqueue | None = None,
               publish: Publish | None = None, replayer: Replayer | None = None) -> Flask:
    """The preview and ops app.

    ``template_dir`` overrides the notice templates folder; ``enqueue`` (notice id → send
    task), ``publish`` (event payload → queue) and ``replayer`` (``replay_notice``) default
    to the Celery app and ``worker.notices.replay``.
    """
    from worker.web import ops, preview, security

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=session_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="pdn_session",
        MAX_CONTENT_LENGTH=256 * 1024,
        TEMPLATES_AUTO_RELOAD=True,
    )
    renderer = pipeline.renderer if pipeline is not None and template_dir is None else Renderer(
        settings, template_dir=template_dir)
    app.extensions[EXTENSION] = WebState(
        settings=settings, renderer=renderer,
        enqueue=enqueue or _default_enqueue, publish=publish or _default_publish,
        replayer=replayer or _default_replayer, _pipeline=pipeline)
    security.install(app, settings)
    app.register_blueprint(preview.bp)
    app.register_blueprint(ops.bp)

    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(redis.RedisError)
    def store_down(exc: Exception) -> tuple[str, int]:
        log.warning("tracking store unavailable: %s", exc.__class__.__name__)
        return render_template(
            "error.html", title="Tracking store unavailable",
            message=(f"The tracking store at {redact_url(settings.redis_url)} is not "
                     f"reachable ({exc.__class__.__name__}: {security.scrub(str(exc), settings)})."
                     " The ops pages need it; the template previews work without it.")), 503

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Not found",
                               message="There is nothing at this address."), 404

    return app
