"""What every page shares: settings, the renderer, the tracking store and the queue."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import current_app

from worker.errors import StoreUnavailable
from worker.intake import producer
from worker.notices.pipeline import Pipeline
from worker.render.renderer import Renderer
from worker.runtime.wiring import build_pipeline
from worker.settings import Settings

#: The key under ``app.extensions`` that holds the WebState.
EXTENSION = "notices_web"

Enqueue = Callable[[str], Any]
#: (task name, payload) -> put it on the queue.
Publish = Callable[[str, Any], Any]
Replayer = Callable[..., Any]


def _celery() -> Any:
    # Lazy: the preview pages never queue anything, and building the Celery app costs
    # start-up time (and needs a broker URL that previews do not).
    from worker.runtime.celery_app import app

    return app


def default_enqueue(notice_id: str) -> None:
    producer.enqueue_send(_celery(), notice_id, force=True)


def default_publish(task: str, payload: Any) -> None:
    producer.publish_to(_celery(), task, payload)


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
                    self._pipeline = build_pipeline(self.settings, renderer=self.renderer)
                except (ValueError, redis.RedisError) as exc:
                    raise StoreUnavailable(str(exc)) from exc
            return self._pipeline


def state() -> WebState:
    """The WebState of the current app."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
