"""Thin Celery tasks: each hands its argument to the pipeline."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from .celery_app import app
from .pipeline import get_pipeline
from .settings import get_settings

log = logging.getLogger(__name__)

_RETRY = {
    # Redis (the tracking store) unreachable: try again shortly. Countdowns stay far below
    # the visibility timeout, and nothing was recorded, so a retry is safe.
    "autoretry_for": (RedisError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": None,
}


@app.task(name="notices.charge_failed", bind=True, **_RETRY)  # type: ignore[misc]
def charge_failed(self: Any, event: Any) -> dict[str, Any]:
    """Accept one failed-charge event (any JSON value; invalid ones are dead-lettered)."""
    pipeline = get_pipeline(get_settings())
    try:
        intake = pipeline.handle_event(event)
    except RedisError:
        raise
    except Exception as exc:
        # A bug must not make the message come back forever, nor vanish: keep the event.
        log.exception("unexpected error handling an event")
        dead_id = pipeline.dead.add(event, f"internal error: {exc.__class__.__name__}: {exc}",
                                    "", "crash")
        return {"status": "error", "dead_letter_id": dead_id}
    return {"notice_id": intake.notice_id, "status": intake.status,
            "dead_letter_id": intake.dead_letter_id}


@app.task(name="notices.send", bind=True, **_RETRY)  # type: ignore[misc]
def send(self: Any, notice_id: str, force: bool = False) -> str:
    """Make one send attempt for a notice that is due (a retry, a replay or a re-drive)."""
    return get_pipeline(get_settings()).deliver(str(notice_id), force=bool(force))
