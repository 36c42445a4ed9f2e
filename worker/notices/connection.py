"""The Redis connection of this process (a real server, or an embedded one for dev mode)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.sentinel import Sentinel

from worker.settings import Settings
from worker.settings.sentinel import is_sentinel, parse_sentinel_url

log = logging.getLogger(__name__)
T = TypeVar("T")

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


#: Every client's socket options: a Redis that stops answering is noticed, not waited on.
_OPTIONS: dict[str, Any] = {
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
    "retry_on_timeout": True,
}


def connect(url: str, sentinel_master: str = "mymaster") -> RedisClient:
    if url.startswith(MEMORY_URL):
        import fakeredis  # see memory_server()

        return fakeredis.FakeRedis(server=memory_server(), decode_responses=True)
    if is_sentinel(url):
        target = parse_sentinel_url(url)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.sentinels),
            socket_timeout=_OPTIONS["socket_timeout"],
            socket_connect_timeout=_OPTIONS["socket_connect_timeout"],
        )
        # The master as the Sentinels name it now, asked again after a failover.
        return sentinel.master_for(  # type: ignore[no-untyped-call]
            sentinel_master,
            db=target.db,
            username=target.username,
            password=target.password,
            decode_responses=True,
            **_OPTIONS,
        )
    return redis.Redis.from_url(url, decode_responses=True, **_OPTIONS)


def get_redis(settings: Settings) -> RedisClient:
    """One client (with its own pool) per process and URL; never shared across a fork."""
    key = (os.getpid(), settings.redis_url)
    with _lock:
        client = _clients.get(key)
    if client is None:
        client = connect(settings.redis_url, settings.redis_sentinel_master)
        with _lock:
            _clients[key] = client
    return client


def restart_patience(lease_seconds: float) -> float:
    """How long a step that holds a lease waits for a restarting Redis before giving up
    (a quarter of the lease, at most 30 s): past it, the lease brings the notice back."""
    return min(lease_seconds / 4, 30.0)


def until_reachable(call: Callable[[], T], deadline: float, what: str) -> T:
    """``call()``, tried again while Redis is unreachable, until ``deadline`` (epoch).

    A worker that holds something only it knows — an event it took from the queue, or the
    relay's answer to a send — keeps it while Redis restarts, and writes it once Redis is
    back, instead of giving up and leaving the outcome to chance.
    """
    pause = 0.2
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            if time.time() + pause > deadline:
                raise
            log.warning(
                "tracking store unreachable while %s (%s); trying again",
                what,
                exc.__class__.__name__,
            )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
