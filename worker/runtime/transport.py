"""kombu's Redis transport, made to hand on what it cannot read instead of dying of it.

kombu pops each queue item and decodes it as its JSON envelope before anything else sees
it; an item that is not JSON (``LPUSH celery 'hello'``) raises inside the worker's event
loop, which Celery calls unrecoverable: the worker exits, and so does every restart. An
item that is JSON but no envelope (an event pushed bare) is lost without a word.

This transport decodes queue items itself. Anything that is not a kombu envelope becomes
a *poison envelope* carrying the raw bytes and the reason, which the consumer
(worker.runtime.consumer) turns into a dead letter and acknowledges.
"""

from __future__ import annotations

import base64
import contextvars
import uuid
from typing import Any, Final

from kombu.transport import redis as kombu_redis
from kombu.utils.json import loads as kombu_loads

#: The content type of a poison envelope; the consumer never decodes its body.
POISON_TYPE: Final = "application/x-pdn-poison"
#: The header that says why an item could not be read.
POISON_REASON: Final = "pdn-poison-reason"

_reading_queue: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pdn_reading_queue", default=False
)


def is_envelope(value: Any) -> bool:
    """Whether a decoded queue item has the shape kombu's Message needs."""
    if not isinstance(value, dict):
        return False
    properties = value.get("properties")
    return (
        isinstance(properties, dict)
        and isinstance(properties.get("delivery_info"), dict)
        and "delivery_tag" in properties
        and "body" in value
        and isinstance(value.get("headers", {}), dict)
    )


def poison_envelope(raw: str, reason: str) -> dict[str, Any]:
    """A kombu envelope around an unreadable item, so that it reaches the consumer."""
    body = base64.b64encode(raw.encode("utf-8", "surrogateescape")).decode("ascii")
    return {
        "body": body,
        "content-encoding": "binary",
        "content-type": POISON_TYPE,
        "headers": {POISON_REASON: reason[:300]},
        "properties": {
            "body_encoding": "base64",
            "delivery_info": {"exchange": "", "routing_key": ""},
            "delivery_mode": 2,
            "delivery_tag": str(uuid.uuid4()),
            "priority": 0,
        },
    }


def _loads(text: str) -> Any:
    """kombu's decoder, guarded while a queue item is being read (see Channel)."""
    if not _reading_queue.get():
        return kombu_loads(text)
    try:
        value = kombu_loads(text)
    except Exception as exc:  # any bytes at all can be pushed onto a list
        return poison_envelope(text, f"the queue item is not JSON ({exc.__class__.__name__})")
    if not is_envelope(value):
        return poison_envelope(
            text,
            "the queue item is JSON but not a message envelope "
            "(an event pushed without Celery's producer?)",
        )
    return value


# kombu's Redis module decodes queue items and unacked records with its module-level
# ``loads``; only reads of queue items are guarded (the context variable is set by
# Channel below), every other decode stays kombu's own.
setattr(kombu_redis, "loads", _loads)  # noqa: B010 (the module attribute, on purpose)


class Channel(kombu_redis.Channel):
    """A Redis channel whose queue reads never raise on what was pushed onto the list."""

    def _brpop_read(self, **options: Any) -> Any:
        token = _reading_queue.set(True)
        try:
            return super()._brpop_read(**options)
        finally:
            _reading_queue.reset(token)

    def _get(self, queue: Any, timeout: Any = None) -> Any:  # kombu's Redis _get has no timeout
        token = _reading_queue.set(True)
        try:
            return super()._get(queue)
        finally:
            _reading_queue.reset(token)


class Transport(kombu_redis.Transport):
    Channel = Channel
