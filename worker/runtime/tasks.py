"""Thin Celery tasks: each hands its argument to the pipeline."""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

from celery.exceptions import Reject
from redis.exceptions import RedisError

from worker.intake.producer import CHARGE_FAILED, SEND
from worker.runtime.celery_app import app
from worker.runtime.wiring import get_pipeline

log = logging.getLogger(__name__)

#: Seconds a task waits before handing its message back while Redis (the store) is away:
#: long enough not to spin, short enough to catch up quickly once it is back.
STORE_BACKOFF = 2.0


def _back_to_queue(exc: RedisError) -> NoReturn:
    """Give the message back to the broker: Redis (the tracking store) is unreachable.

    Not Celery's retry: it publishes a new message, and when the broker is the same Redis
    that publish fails and Celery then rejects the original without requeueing it — the
    event would be lost. Reject(requeue=True) puts the message back on the queue; if even
    that cannot reach Redis, the message stays unacknowledged and Redis hands it out again
    after the visibility timeout. Nothing was recorded, so running it again is safe.
    """
    log.warning("tracking store unreachable (%s); the message goes back to the queue", exc)
    time.sleep(STORE_BACKOFF)
    raise Reject(exc, requeue=True)


@app.task(name=CHARGE_FAILED, bind=True)
def charge_failed(self: Any, event: Any) -> dict[str, Any]:
    """Accept one failed-charge event (any JSON value; invalid ones are dead-lettered)."""
    pipeline = get_pipeline()
    try:
        intake = pipeline.handle_event(event)
    except RedisError as exc:
        _back_to_queue(exc)
    except Exception as exc:
        # A bug must not make the message come back forever, nor vanish: keep the event.
        log.exception("unexpected error handling an event")
        try:
            dead_id = pipeline.dead.add(
                event, f"internal error: {exc.__class__.__name__}: {exc}", "", "crash"
            )
        except RedisError as store_exc:
            _back_to_queue(store_exc)
        return {"status": "error", "dead_letter_id": dead_id}
    return {
        "notice_id": intake.notice_id,
        "status": str(intake.status or "invalid"),
        "dead_letter_id": intake.dead_letter_id,
    }


@app.task(name=SEND, bind=True)
def send(self: Any, notice_id: str, force: bool = False) -> str:
    """Make one send attempt for a notice that is due (a retry, a replay or a re-drive)."""
    try:
        return str(get_pipeline().deliver(str(notice_id), force=bool(force)))
    except RedisError as exc:
        _back_to_queue(exc)
