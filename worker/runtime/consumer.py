"""The Celery consumer, changed so that undecodable messages are dead-lettered, not dropped."""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

from worker.runtime.wiring import get_pipeline

log = logging.getLogger(__name__)


class Consumer(CeleryConsumer):
    """Celery logs and acknowledges a message it cannot decode (bytes that are not JSON, a
    content type we do not accept): the event would be gone. We keep its body as a dead
    letter first, then let Celery acknowledge it so that it cannot loop."""

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        try:
            body = message.body if isinstance(message.body, (bytes, str)) else repr(message.body)
            get_pipeline().dead.add(
                body, f"undecodable message ({message.content_type}): {exc}"[:300], "", "queue"
            )
        except Exception:
            # Keeping it failed (Redis away): leave it unacknowledged so it comes back after
            # the visibility timeout, rather than losing it.
            log.exception("could not dead-letter an undecodable message; leaving it queued")
            return
        super().on_decode_error(message, exc)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        # When Redis goes away while messages are reserved, Celery closes the dead connection
        # and kombu tries to put those messages back through it: an AttributeError
        # ('NoneType' object has no attribute 'hostname') that Celery calls unrecoverable,
        # and the whole worker exits instead of reconnecting (tests/test_faults.py, Redis
        # restart). The messages stay in Redis's unacked set and come back after the
        # visibility timeout; the worker must live on and reconnect.
        try:
            super().on_connection_error_after_connected(exc)
        except Exception:
            log.warning(
                "could not close the lost broker connection cleanly; reconnecting", exc_info=True
            )
