"""The Celery consumer, changed so that no queue message is dropped and none stops the worker."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from vine import promise

from worker.runtime.poison import Poison, inspect
from worker.runtime.wiring import get_pipeline

log = logging.getLogger(__name__)

#: Seconds to wait before handing a message back when even its dead letter cannot be
#: written (the store is away): long enough not to spin.
STORE_BACKOFF = 2.0


class Consumer(CeleryConsumer):
    """Every message this worker cannot run becomes a dead letter with its reason and raw
    bytes, and is acknowledged: Celery would log and drop most of them, and exit on some
    (a body that does not unpack), on every restart.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # When Redis goes away, kombu's acknowledgements and rejections of messages taken
        # before run on a channel whose connection is gone and raise AttributeError
        # ('NoneType' object has no attribute ...), which Celery does not expect and which
        # ends the worker. Counted as a connection error, it is logged instead; the message
        # stays in Redis's unacked set and comes back after the visibility timeout.
        self.connection_errors: tuple[type[BaseException], ...] = (
            *self.connection_errors,
            AttributeError,
        )

    def create_task_handler(self, promise: Any = promise) -> Any:
        handle = super().create_task_handler(promise)

        def on_task_received(message: Any) -> Any:
            try:
                poison = inspect(message, self.app.tasks)
            except Exception as exc:  # whatever the bytes, the worker lives on
                poison = Poison(
                    f"unreadable message ({exc.__class__.__name__})",
                    repr(getattr(message, "body", b""))[:65536],
                )
            if poison is not None:
                return self.dead_letter(message, poison)
            return handle(message)

        return on_task_received

    def dead_letter(self, message: Any, poison: Poison) -> None:
        """Keep the message as a dead letter, then acknowledge it."""
        try:
            dead_id = get_pipeline().dead.add(
                poison.payload,
                poison.reason,
                "",
                "queue",
                _event_id(poison.payload),
                task=poison.task,
            )
        except Exception:
            # Not even the dead letter can be written (the store is away): hand the message
            # back, after a pause, rather than lose it.
            log.exception("could not dead-letter a queue message; it goes back to the queue")
            time.sleep(STORE_BACKOFF)
            message.reject_log_error(log, self.connection_errors, requeue=True)
            return
        log.warning("queue message dead-lettered as %s: %s", dead_id, poison.reason)
        message.ack_log_error(log, self.connection_errors)

    # Celery's own handlers for what the checks above should already have caught: the same
    # treatment, never a silent drop.
    def on_unknown_message(self, body: Any, message: Any) -> None:
        self.dead_letter(message, Poison("not a Celery task message", _raw(message)))

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        task = (message.headers or {}).get("task") if isinstance(message.headers, dict) else None
        self.dead_letter(message, Poison(f"unknown task {task!r}", _raw(message), task))

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self.dead_letter(message, Poison(f"invalid task message: {exc}"[:300], _raw(message)))

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self.dead_letter(
            message,
            Poison(f"undecodable message ({message.content_type}): {exc}"[:300], _raw(message)),
        )

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


def _raw(message: Any) -> str:
    body = getattr(message, "body", b"")
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def _event_id(payload: Any) -> str | None:
    value = payload.get("event_id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None
