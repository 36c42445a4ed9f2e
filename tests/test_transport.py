"""Our Redis transport: unreadable queue items handed on, messages taken and recorded in one
step, and (on a server without BLMOVE) messages taken as Redis dies kept."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.transport import redis as kombu_redis

from tests.support.processes import TEST_REDIS_URL
from worker.runtime import take, transport
from worker.runtime.transport import POISON_TYPE, Transport


@pytest.fixture
def conn(real_redis: Any) -> Any:
    with Connection(TEST_REDIS_URL, transport=Transport) as connection:
        yield connection


def test_transport_hands_on_an_item_that_is_not_json(conn: Any, real_redis: Any) -> None:
    real_redis.lpush("celery", "hello, not json")
    queue = conn.SimpleQueue("celery")
    message = queue.get(timeout=5)
    assert message.content_type == POISON_TYPE and message.body == b"hello, not json"
    message.ack()
    queue.close()


def test_transport_brpop_keeps_a_message_whose_unacked_record_failed(
    conn: Any, real_redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_redis.lpush("celery", json.dumps(transport.poison_envelope("kept", "test")))
    channel = conn.default_channel
    # A server without BLMOVE: kombu's BRPOP, then the record in a second round trip.
    channel._take_supported = False

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(channel.qos, "pipe_or_acquire", broken)
    queue = conn.SimpleQueue("celery", channel=channel)
    with pytest.raises(redis.ConnectionError):
        queue.get(timeout=5)
    # Popped, not recorded as unacked: only this process has it now.
    assert real_redis.llen("celery") == 0 and real_redis.hlen("unacked") == 0
    assert len(transport._rescued) == 1
    monkeypatch.undo()
    with Connection(TEST_REDIS_URL, transport=Transport) as again:
        assert again.default_channel is not None  # a new channel (a reconnect) puts it back
        assert real_redis.llen("celery") == 1 and transport._rescued == []


def test_transport_brpop_keeps_a_message_taken_on_a_closed_connection(
    conn: Any, real_redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_redis.lpush("celery", json.dumps(transport.poison_envelope("kept", "test")))
    channel = conn.default_channel
    # A server without BLMOVE: kombu's BRPOP, then the record in a second round trip.
    channel._take_supported = False

    def closed(*args: Any, **kwargs: Any) -> Any:
        # What kombu raises when the channel's connection was released under it.
        raise AttributeError("'NoneType' object has no attribute 'hostname'")

    monkeypatch.setattr(channel.qos, "pipe_or_acquire", closed)
    queue = conn.SimpleQueue("celery", channel=channel)
    with pytest.raises(AttributeError):
        queue.get(timeout=5)
    assert real_redis.llen("celery") == 0 and len(transport._rescued) == 1
    monkeypatch.undo()
    # The same channel, still alive, puts it back before its next wait for a message.
    message = queue.get(timeout=5)
    assert message.body == b"kept" and transport._rescued == []
    message.ack()
    queue.close()


QUEUE = "take-test"


def declare(conn: Any) -> Queue:
    queue = Queue(QUEUE, Exchange(QUEUE), QUEUE, channel=conn.default_channel)
    queue.declare()
    return queue


def publish(conn: Any, body: str, priority: int | None = None) -> None:
    with conn.Producer() as producer:
        producer.publish(body, exchange=QUEUE, routing_key=QUEUE, priority=priority)


def wait_popped(real_redis: Any, key: str = QUEUE) -> None:
    """Until the server has run the take (the queue is empty), without reading its reply."""
    deadline = time.monotonic() + 5
    while real_redis.llen(key) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert real_redis.llen(key) == 0


def test_take_server_supports_needs_blmove() -> None:
    assert take.server_supports({"redis_version": "7.0.15"})
    assert take.server_supports({"redis_version": "6.2.0"})
    assert not take.server_supports({"redis_version": "6.0.16"})
    assert not take.server_supports({"redis_version": "unknown"})


def test_take_wait_seconds_wakes_for_the_other_keys() -> None:
    assert take.wait_seconds(1, 1) == 1.0
    assert take.wait_seconds(0, 1) == 0.0  # one key: blocking for ever is safe
    assert take.wait_seconds(0, 4) == 1.0
    assert take.wait_seconds(5, 4) == 1.0


def test_transport_take_records_the_message_with_the_pop(conn: Any, real_redis: Any) -> None:
    declare(conn)
    publish(conn, "first")
    got: list[Any] = []
    with conn.Consumer(
        Queue(QUEUE, Exchange(QUEUE), QUEUE), callbacks=[lambda b, m: got.append(m)]
    ):
        conn.drain_events(timeout=5)
        assert conn.default_channel._take_supported is True
        (message,) = got
        # Unacknowledged and recorded as kombu records it: envelope, exchange, routing key.
        stored = json.loads(real_redis.hget("unacked", message.delivery_tag))
        assert stored[0]["body"] == message._raw["body"] and stored[1:] == [QUEUE, QUEUE]
        assert real_redis.zscore("unacked_index", message.delivery_tag) is not None
        message.ack()
    assert real_redis.hlen("unacked") == 0 and real_redis.llen(QUEUE) == 0


def test_transport_take_keeps_a_message_whose_reply_never_arrived(
    conn: Any, real_redis: Any
) -> None:
    """The reply of a take is lost (Redis stopped after it ran, or the worker died): the
    message is in ``unacked`` and the visibility timeout brings it back."""
    declare(conn)
    publish(conn, "in flight")
    channel = conn.default_channel
    channel.basic_consume(QUEUE, no_ack=False, callback=lambda m: None, consumer_tag="t")
    conn.transport.cycle._register_BRPOP(channel)  # sends the take, as the event loop does
    wait_popped(real_redis)
    channel.client.connection.disconnect()  # the reply goes nowhere
    assert real_redis.hlen("unacked") == 1
    with Connection(
        TEST_REDIS_URL, transport=Transport, transport_options={"visibility_timeout": 0}
    ) as other:
        other.default_channel.qos.restore_visible()
    (item,) = real_redis.lrange(QUEUE, 0, -1)
    assert json.loads(item)["properties"]["delivery_info"]["redelivered"] is True
    assert real_redis.hlen("unacked") == 0


def test_transport_kombu_brpop_loses_a_message_whose_reply_never_arrived(
    real_redis: Any,
) -> None:
    """Why the take exists: the same loss with kombu's own transport leaves nothing."""
    with Connection(TEST_REDIS_URL, transport=kombu_redis.Transport) as plain:
        declare(plain)
        publish(plain, "in flight")
        channel = plain.default_channel
        channel.basic_consume(QUEUE, no_ack=False, callback=lambda m: None, consumer_tag="t")
        plain.transport.cycle._register_BRPOP(channel)  # sends BRPOP
        wait_popped(real_redis)
        channel.client.connection.disconnect()
        channel._in_poll = None
    assert real_redis.llen(QUEUE) == 0 and real_redis.hlen("unacked") == 0


def test_transport_take_reads_every_priority_level(conn: Any, real_redis: Any) -> None:
    declare(conn)
    publish(conn, "urgent", priority=9)
    assert real_redis.llen(QUEUE) == 0  # on a priority level's own key: not the one waited on
    got: list[Any] = []
    with conn.Consumer(
        Queue(QUEUE, Exchange(QUEUE), QUEUE), callbacks=[lambda b, m: got.append(m)]
    ):
        conn.drain_events(timeout=5)
    assert [m.body for m in got] == [b"urgent"]
    got[0].ack()


def test_transport_take_hands_on_junk_under_the_recorded_tag(conn: Any, real_redis: Any) -> None:
    """JSON the script reads as an envelope but the worker does not (headers not an
    object): the poison envelope keeps the tag, and its record replaces the script's."""
    declare(conn)
    envelope = transport.poison_envelope("x", "test")
    envelope["headers"] = ["not", "an", "object"]
    envelope["properties"]["delivery_info"] = {"exchange": QUEUE, "routing_key": QUEUE}
    real_redis.lpush(QUEUE, json.dumps(envelope))
    got: list[Any] = []
    with conn.Consumer(
        Queue(QUEUE, Exchange(QUEUE), QUEUE), callbacks=[lambda b, m: got.append(m)]
    ):
        conn.drain_events(timeout=5)
    (message,) = got
    tag = envelope["properties"]["delivery_tag"]
    assert message.content_type == POISON_TYPE and message.delivery_tag == tag
    stored = json.loads(real_redis.hget("unacked", tag))
    assert stored[0]["content-type"] == POISON_TYPE
    message.ack()
    assert real_redis.hlen("unacked") == 0


def test_take_supported_falls_back_to_brpop_on_an_old_server(
    conn: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    channel = conn.default_channel
    monkeypatch.setattr(channel.client, "info", lambda section: {"redis_version": "6.0.16"})
    assert take.supported(channel) is False
    assert "has no BLMOVE" in caplog.text
    assert take.supported(channel) is False  # asked once per channel
