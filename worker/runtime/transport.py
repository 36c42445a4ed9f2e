"""kombu's Redis transport, made to hand on what it cannot read instead of dying of it.

kombu pops each queue item and decodes it as its JSON envelope before anything else sees
it; an item that is not JSON (``LPUSH celery 'hello'``) raises inside the worker's event
loop, which Celery calls unrecoverable: the worker exits, and so does every restart. An
item that is JSON but no envelope (an event pushed bare) is lost without a word.

This transport decodes queue items itself. Anything that is not a kombu envelope becomes
a *poison envelope* carrying the raw bytes and the reason, which the consumer
(worker.runtime.consumer) turns into a dead letter and acknowledges.

It also takes each message and records it as unacknowledged in one Redis script instead
of kombu's BRPOP and a second write (worker.runtime.take), so that a Redis crash or a
worker's death between the two cannot lose it.
"""

from __future__ import annotations

import base64
import contextvars
import logging
import threading
import uuid
from queue import Empty
from typing import Any, Final

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads as kombu_loads

from worker.runtime import take

log = logging.getLogger(__name__)

#: The content type of a poison envelope; the consumer never decodes its body.
POISON_TYPE: Final = "application/x-pdn-poison"
#: The header that says why an item could not be read.
POISON_REASON: Final = "pdn-poison-reason"

#: The queue a message is being delivered from (see Transport._deliver).
_delivering_from: contextvars.ContextVar[str] = contextvars.ContextVar(
    "pdn_delivering_from", default=""
)
_reading_queue: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pdn_reading_queue", default=False
)
#: The delivery tag the take script recorded the message being delivered under: its
#: unacknowledged record is written already (see QoS.append).
_recorded_tag: contextvars.ContextVar[str] = contextvars.ContextVar("pdn_recorded_tag", default="")


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


def poison_envelope(raw: str, reason: str, tag: str = "") -> dict[str, Any]:
    """A kombu envelope around an unreadable item, so that it reaches the consumer; under
    ``tag`` when one is given (the record the take script wrote is then replaced)."""
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
            "delivery_tag": tag or str(uuid.uuid4()),
            "priority": 0,
        },
    }


def decode_item(text: str, tag: str = "") -> tuple[Any, bool]:
    """A queue item as kombu's envelope, and whether it was one (else a poison envelope,
    under ``tag`` if given)."""
    try:
        value = kombu_loads(text)
    except Exception as exc:  # any bytes at all can be pushed onto a list
        reason = f"the queue item is not JSON ({exc.__class__.__name__})"
        return poison_envelope(text, reason, tag), False
    if not is_envelope(value):
        reason = (
            "the queue item is JSON but not a message envelope "
            "(an event pushed without Celery's producer?)"
        )
        return poison_envelope(text, reason, tag), False
    return value, True


def _loads(text: str) -> Any:
    """kombu's decoder, guarded while a queue item is being read (see Channel)."""
    if not _reading_queue.get():
        return kombu_loads(text)
    return decode_item(text)[0]


# kombu's Redis module decodes queue items and unacked records with its module-level
# ``loads``; only reads of queue items are guarded (the context variable is set by
# Channel below), every other decode stays kombu's own.
setattr(kombu_redis, "loads", _loads)  # noqa: B010 (the module attribute, on purpose)


#: Messages popped from the queue whose unacked record could not be written (Redis went
#: away between the two): only this process holds them, until a channel puts them back.
_rescued: list[tuple[Any, str, str]] = []
_rescued_lock = threading.Lock()


class QoS(kombu_redis.QoS):
    """kombu pops a message (BRPOP), then records it as unacknowledged in a second round
    trip. When Redis goes away between the two, the message is in no list at all: the
    process keeps it and puts it back on the queue once Redis answers again."""

    def append(self, message: Any, delivery_tag: Any) -> None:
        if delivery_tag and _recorded_tag.get() == delivery_tag:
            # The take script wrote the unacknowledged record with the pop: only the
            # in-process bookkeeping is left.
            virtual.QoS.append(self, message, delivery_tag)
            return
        try:
            super().append(message, delivery_tag)
        # Not only connection errors: a channel whose connection kombu has already closed
        # fails here with AttributeError (its ``client`` is None), and the message popped
        # a moment earlier would be in no list at all.
        except Exception:
            delivery = message.delivery_info
            # The queue it came from when the envelope names none (default exchange).
            routing_key = delivery.get("routing_key") or _delivering_from.get()
            with _rescued_lock:
                _rescued.append((message._raw, delivery.get("exchange") or "", routing_key))
            log.warning(
                "broker went away as a message was taken; it is kept and will be "
                "put back on the queue"
            )
            raise


class Channel(kombu_redis.Channel):
    """A Redis channel whose queue reads never raise on what was pushed onto the list, and
    that puts back messages taken while the broker went away (see QoS)."""

    QoS = QoS

    #: Whether the server can take atomically (None: not asked yet; see take.supported).
    _take_supported: bool | None = None
    #: A wait-and-take was sent and its two replies are not read yet.
    _take_pending = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.put_back_rescued()

    def put_back_rescued(self) -> int:
        """Push kept messages back to the front of their queue; returns how many."""
        with _rescued_lock:
            pending = list(_rescued)
            _rescued.clear()
        done = 0
        try:
            for payload, exchange, routing_key in pending:
                with self.conn_or_acquire() as client, client.pipeline() as pipe:
                    # Rightmost: BRPOP takes from the right, so it is the next one taken.
                    self._do_restore_message(payload, exchange, routing_key, pipe)
                    pipe.execute()
                done += 1
        except Exception:  # connection errors, or a channel whose connection is closed
            with _rescued_lock:
                _rescued[:0] = pending[done:]
            return done
        if done:
            log.warning("%d message(s) taken while the broker was away put back on the queue", done)
        return done

    def _brpop_start(self, timeout: Any = None) -> Any:
        # A channel that outlived the failure may be the only one left: it puts back
        # what was kept before it waits for the next message.
        if _rescued:
            self.put_back_rescued()
        if not take.supported(self):
            return super()._brpop_start(timeout)
        take.send(self, self.brpop_timeout if timeout is None else timeout)
        return None

    def _brpop_read(self, **options: Any) -> Any:
        token = _reading_queue.set(True)
        try:
            if not self._take_pending:
                return super()._brpop_read(**options)
            try:
                connection = self.client.connection
                try:
                    taken = take.read(self, connection, **options)
                except self.connection_errors:
                    # Disconnect so that the next round reconnects, as kombu does.
                    connection.disconnect()
                    raise
                if not taken:
                    raise Empty()
                dest, item, tag = (bytes_to_str(part) for part in taken)
                dest = dest.rsplit(self.sep, 1)[0]
                self._queue_cycle.rotate(dest)
                message, readable = decode_item(item, tag)
                # An item the script recorded but that is no envelope here becomes a
                # poison envelope under the same tag; its record is then written again.
                recorded = _recorded_tag.set(tag if readable else "")
                try:
                    self.connection._deliver(message, dest)
                finally:
                    _recorded_tag.reset(recorded)
                return True
            finally:
                self._in_poll = None  # type: ignore[assignment]  # kombu's own reset
                self._flush_brpop_reauth()
        finally:
            _reading_queue.reset(token)

    def _poll_error(self, type: Any, **options: Any) -> Any:
        if type == "BRPOP" and self._take_pending:
            return take.read(self, self.client.connection)
        return super()._poll_error(type, **options)

    def _get(self, queue: Any, timeout: Any = None) -> Any:  # kombu's Redis _get has no timeout
        token = _reading_queue.set(True)
        try:
            return super()._get(queue)
        finally:
            _reading_queue.reset(token)


class Transport(kombu_redis.Transport):
    Channel = Channel

    def _deliver(self, message: Any, queue: str) -> Any:
        token = _delivering_from.set(queue)
        try:
            return super()._deliver(message, queue)
        finally:
            _delivering_from.reset(token)


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """The same guarded reads and rescue, with the master found through Sentinel."""


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel

    def _deliver(self, message: Any, queue: str) -> Any:
        token = _delivering_from.set(queue)
        try:
            return super()._deliver(message, queue)
        finally:
            _delivering_from.reset(token)
