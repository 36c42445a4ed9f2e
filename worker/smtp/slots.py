"""Connection slots to the relay shared by every worker (RELAY_MAX_CONNECTIONS).

Relays limit connections per client (Postfix's smtpd_client_connection_count_limit, 50
by default; hosted relays often fewer): a limit per process would let several workers
open too many together. A slot lives in Redis (see worker.notices.limits) and lapses
unless refreshed, so that a worker that dies frees its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any, Protocol

#: Refresh held slots this often (they lapse after worker.notices.limits.SLOT_TTL).
REFRESH_EVERY = 20.0
#: While every slot is taken, ask again after this long.
RETRY_AFTER = 0.05


class SlotStore(Protocol):
    """Where slots are kept (worker.notices.limits.RelayLimits)."""

    def acquire_connection(self, member: str) -> bool: ...

    def release_connection(self, member: str) -> None: ...


class ConnectionSlots:
    """Takes a slot before a connection opens and gives it back when it closes."""

    def __init__(self, store: SlotStore) -> None:
        self.store = store
        self._held: dict[int, str] = {}  #: id(client) -> member
        self._refresher: asyncio.Task[None] | None = None
        self._prefix = f"{socket.gethostname()}:{os.getpid()}"

    async def acquire(self, client: Any, deadline: float) -> None:
        """Wait for a slot for ``client`` until ``deadline`` (loop time); TimeoutError then."""
        loop = asyncio.get_running_loop()
        member = f"{self._prefix}:{id(client)}"
        while not await loop.run_in_executor(None, self.store.acquire_connection, member):
            if loop.time() >= deadline:
                raise TimeoutError("every connection slot to the relay is taken")
            await asyncio.sleep(RETRY_AFTER)
        self._held[id(client)] = member
        if self._refresher is None or self._refresher.done():
            self._refresher = loop.create_task(self._refresh())

    async def release(self, client: Any) -> None:
        member = self._held.pop(id(client), None)
        if member is not None:
            with contextlib.suppress(Exception):  # it lapses on its own anyway
                await asyncio.get_running_loop().run_in_executor(
                    None, self.store.release_connection, member
                )

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        while self._held:
            await asyncio.sleep(REFRESH_EVERY)
            for member in list(self._held.values()):
                with contextlib.suppress(Exception):  # Redis away: try at the next round
                    await loop.run_in_executor(None, self.store.acquire_connection, member)
