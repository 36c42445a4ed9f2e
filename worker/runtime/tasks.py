"""Thin Celery tasks: each hands its argument to the pipeline."""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

from celery.exceptions import Reject
from redis.exceptions import RedisError

from worker.intake.kinds import EventType
from worker.intake.producer import SEND
from worker.notices.connection import until_reachable
from worker.runtime.celery_app import app
from worker.runtime.poison import ARITY
from worker.runtime.wiring import get_pipeline
from worker.settings import get_settings

log = logging.getLogger(__name__)


def _store_deadline() -> float:
    """How long a task keeps its message while the store is away: half the visibility
    timeout, after which Redis would hand the message to another worker anyway."""
    return time.time() + get_settings().visibility_timeout / 2


def _back_to_queue(exc: RedisError) -> NoReturn:
    """Give the message back to the broker: the store stayed away too long.

    Not Celery's retry: it publishes a new message, and when the broker is the same Redis
    that publish fails and Celery then rejects the original without requeueing it — the
    event would be lost. Reject(requeue=True) puts the message back on the queue; if even
    that cannot reach Redis, the message stays unacknowledged and Redis hands it out again
    after the visibility timeout. Nothing was recorded, so running it again is safe.
    """
    log.warning("tracking store unreachable (%s); the message goes back to the queue", exc)
    raise Reject(exc, requeue=True)


def _wrong_arguments(task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    return ARITY[task](list(args), kwargs)


def _take_event(kind: EventType, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Accept one event of type ``kind`` (any JSON value; invalid ones are dead-lettered)."""
    pipeline = get_pipeline(engine=True)
    problem = _wrong_arguments(kind.task, args, kwargs)
    event: Any = args[0] if len(args) == 1 else {"args": list(args), "kwargs": kwargs}
    try:
        if problem:
            dead_id = until_reachable(
                lambda: pipeline.dead.add(event, problem, "", "queue", task=kind.task),
                _store_deadline(),
                "dead-lettering a message",
            )
            return {"status": "invalid", "dead_letter_id": dead_id}
        # The event exists only in this message until it is recorded: while Redis restarts
        # the task keeps it (kombu may not have recorded it as unacknowledged yet).
        intake = until_reachable(
            lambda: pipeline.handle(event, kind), _store_deadline(), "accepting an event"
        )
    except RedisError as exc:
        _back_to_queue(exc)
    except Exception as exc:
        # A bug must not make the message come back forever, nor vanish: keep the event.
        log.exception("unexpected error handling an event")
        try:
            dead_id = pipeline.dead.add(
                event,
                f"internal error: {exc.__class__.__name__}: {exc}",
                "",
                "crash",
                task=kind.task,
            )
        except RedisError as store_exc:
            _back_to_queue(store_exc)
        return {"status": "error", "dead_letter_id": dead_id}
    return {
        "notice_id": intake.notice_id,
        "status": str(intake.status or "invalid"),
        "dead_letter_id": intake.dead_letter_id,
    }


@app.task(name=EventType.CHARGE_FAILED.task, bind=True)
def charge_failed(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Accept one failed-charge event: it opens or joins a sequence."""
    return _take_event(EventType.CHARGE_FAILED, args, kwargs)


@app.task(name=EventType.PAYMENT_SUCCEEDED.task, bind=True)
def payment_succeeded(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Accept one payment: its sequence (or every open one of the subscription) closes."""
    return _take_event(EventType.PAYMENT_SUCCEEDED, args, kwargs)


@app.task(name=EventType.INVOICE_VOIDED.task, bind=True)
def invoice_voided(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Accept one voided invoice: its sequence closes, nothing is owed."""
    return _take_event(EventType.INVOICE_VOIDED, args, kwargs)


@app.task(name=EventType.SUBSCRIPTION_CANCELLED.task, bind=True)
def subscription_cancelled(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Accept one cancellation: the subscription's open sequences close."""
    return _take_event(EventType.SUBSCRIPTION_CANCELLED, args, kwargs)


@app.task(name=EventType.SUBSCRIPTION_DISABLED.task, bind=True)
def subscription_disabled(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Accept one disabled subscription: its open sequences get their ``disabled`` notice."""
    return _take_event(EventType.SUBSCRIPTION_DISABLED, args, kwargs)


@app.task(name=SEND, bind=True)
def send(self: Any, *args: Any, **kwargs: Any) -> str:
    """Make one send attempt for a notice that is due (a retry, a replay or a re-drive)."""
    pipeline = get_pipeline(engine=True)
    problem = _wrong_arguments(SEND, args, kwargs)
    try:
        if problem:
            pipeline.dead.add(
                {"args": list(args), "kwargs": kwargs}, problem, "", "queue", task=SEND
            )
            return "invalid"
        notice_id, force = str(args[0]), bool(args[1] if len(args) > 1 else kwargs.get("force"))
        # Nothing is lost if this gives up: the notice is in the schedule, and the sweeper
        # hands it out again once Redis is back.
        return str(
            until_reachable(
                lambda: pipeline.deliver(notice_id, force=force),
                _store_deadline(),
                "sending a notice",
            )
        )
    except RedisError as exc:
        _back_to_queue(exc)
