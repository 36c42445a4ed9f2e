"""The Redis connection of this process (a real server, or an embedded one for dev mode)."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

from worker.settings import Settings

#: Our clients always decode responses to str, which redis-py's annotations cannot express
#: (they type every reply as bytes | str), so the client is typed loosely in one place.
RedisClient = Any

#: ``REDIS_URL=memory://`` runs on an in-process Redis (fakeredis): dev mode and unit tests.
MEMORY_URL = "memory://"

_lock = threading.Lock()
_clients: dict[tuple[int, str], RedisClient] = {}
_memory_server: Any = None


def memory_server() -> Any:
    global _memory_server
    # fakeredis only for memory:// (dev mode, unit tests): production never loads it.
    import fakeredis

    with _lock:
        if _memory_server is None:
            _memory_server = fakeredis.FakeServer()
        return _memory_server


def connect(url: str) -> RedisClient:
    if url.startswith(MEMORY_URL):
        import fakeredis  # see memory_server()

        return fakeredis.FakeRedis(server=memory_server(), decode_responses=True)
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def get_redis(settings: Settings) -> RedisClient:
    """One client (with its own pool) per process and URL; never shared across a fork."""
    key = (os.getpid(), settings.redis_url)
    with _lock:
        client = _clients.get(key)
    if client is None:
        client = connect(settings.redis_url)
        with _lock:
            _clients[key] = client
    return client
