"""The one asyncio loop thread of a process, on which every SMTP session runs."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Loop:
    """One asyncio loop in a daemon thread per process, shared by every task in it.

    Created lazily and keyed by pid: a prefork child must never reuse its parent's loop
    or sockets.
    """

    _lock = threading.Lock()
    _instance: Loop | None = None

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="smtp-loop", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> Loop:
        with cls._lock:
            if cls._instance is None or cls._instance.pid != os.getpid():
                cls._instance = Loop()
            return cls._instance

    def run(self, factory: Callable[[], Awaitable[T]], timeout: float) -> T:
        async def wrapped() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(wrapped(), self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            # Stop the send too: left running, it could still deliver after the caller
            # has recorded a failure and scheduled a retry.
            future.cancel()
            raise
