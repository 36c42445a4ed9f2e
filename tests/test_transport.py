"""Our Redis transport: unreadable queue items handed on, messages taken as Redis dies kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from kombu.connection import Connection

from tests.support.processes import TEST_REDIS_URL
from worker.runtime import transport
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


def test_transport_keeps_a_message_whose_unacked_record_failed(
    conn: Any, real_redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_redis.lpush("celery", json.dumps(transport.poison_envelope("kept", "test")))
    channel = conn.default_channel

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


def test_transport_keeps_a_message_taken_on_a_closed_connection(
    conn: Any, real_redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_redis.lpush("celery", json.dumps(transport.poison_envelope("kept", "test")))
    channel = conn.default_channel

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
