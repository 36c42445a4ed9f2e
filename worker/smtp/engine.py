"""The sending engine: many SMTP sends in flight per process, fed by tasks, with backpressure.

A Celery pool process runs one task at a time; if the task also waited for the relay,
sends in flight would equal pool processes, and a relay 100 ms away would cap a worker at
a few mails per second. Here a task hands its (already leased and rendered) mail to the
engine and returns; the engine runs up to ``SMTP_CONCURRENCY`` sends at once on the
process's event loop, over the transport's pooled connections, and hands each result to a
callback on a small thread pool (which records it in Redis: blocking calls stay off the
event loop).

The Redis schedule and lease stay the source of truth: a process that dies with sends
queued or in flight loses nothing, the sweeper re-drives them when their lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, Protocol

from worker.errors import SMTPTimeout
from worker.metrics import SENDS_IN_FLIGHT
from worker.settings import Settings
from worker.smtp.client import Transport, get_transport
from worker.smtp.loop import Loop
from worker.smtp.replies import Accepted

log = logging.getLogger(__name__)

#: What a send ends with: the relay's acceptance, or the error it raised (classified).
Result = Accepted | Exception
#: Called with the result, on a completion thread, before the send's slot is freed.
OnDone = Callable[[Result], None]
#: Threads that record results (Redis round trips): a few keep up with many sends.
COMPLETION_THREADS: Final = 4


@dataclass(frozen=True)
class Job:
    """One mail, ready to go: the notice is leased and the message rendered."""

    message: bytes
    sender: str
    recipient: str
    envelope_id: str | None
    on_done: OnDone
    #: Asked right before the mail goes to the relay (on a completion thread): False
    #: withdraws it unsent and unrecorded (the notice's store already says why).
    confirm: Callable[[], bool] | None = None


class RateGate(Protocol):
    """Shared send rates (worker.notices.limits.RelayLimits)."""

    @property
    def limits_rate(self) -> bool: ...

    def take(self, domain: str) -> float: ...


class EngineClosed(RuntimeError):
    """The engine is draining for shutdown and takes no more work."""


class Engine:
    """Runs sends concurrently; ``submit`` blocks while ``concurrency`` are in flight."""

    def __init__(
        self, transport: Transport, concurrency: int, rates: RateGate | None = None
    ) -> None:
        self.transport = transport
        self.concurrency = concurrency
        #: RELAY_RATE and DOMAIN_RATES: each send waits its turn (on the loop, never in a
        #: task) before it goes to the relay.
        self.rates = rates if rates is not None and rates.limits_rate else None
        self._slots = threading.BoundedSemaphore(concurrency)
        self._done = ThreadPoolExecutor(
            max_workers=min(COMPLETION_THREADS, concurrency), thread_name_prefix="smtp-done"
        )
        self._lock = threading.Lock()
        self._in_flight = 0
        self._closing = False

    @property
    def in_flight(self) -> int:
        """Sends queued, on the wire or being recorded."""
        return self._in_flight

    def submit(self, job: Job, wait: float) -> None:
        """Hand ``job`` to the engine, waiting up to ``wait`` seconds for a free slot.

        The wait is the backpressure: a task that cannot hand its mail over holds its
        pool process, so the worker takes no more messages than it can send.
        Raises TimeoutError when no slot freed in time (the caller keeps the notice
        scheduled), EngineClosed while shutting down.
        """
        if self._closing:
            raise EngineClosed("the sending engine is shutting down")
        if not self._slots.acquire(timeout=max(0.0, wait)):
            raise TimeoutError(f"no free send slot within {wait:.0f} s")
        with self._lock:
            self._in_flight += 1
        SENDS_IN_FLIGHT.inc()
        try:
            asyncio.run_coroutine_threadsafe(self._run(job), Loop.get().loop)
        except BaseException:
            self._release()
            raise

    async def _run(self, job: Job) -> None:
        # Bounded overall: connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA each time out.
        budget = self.transport.timeout * 8 + 5
        result: Result
        try:
            if self.rates is not None:
                await self._wait_turn(job.recipient.rpartition("@")[2])
            if job.confirm is not None and not await self._confirmed(job.confirm):
                self._release()
                return
            result = await asyncio.wait_for(
                self.transport.send_async(job.message, job.sender, job.recipient, job.envelope_id),
                budget,
            )
        except SMTPTimeout as exc:
            result = exc
        except TimeoutError:
            result = SMTPTimeout("send took longer than its overall budget", unknown_outcome=True)
        except Exception as exc:  # classified by the transport; anything else is a bug
            result = exc
        try:
            self._done.submit(self._finish, job, result)
        except RuntimeError:  # the completion pool is shut down: record here, once
            self._finish(job, result)

    async def _confirmed(self, confirm: Callable[[], bool]) -> bool:
        loop = asyncio.get_running_loop()
        try:
            return bool(await loop.run_in_executor(self._done, confirm))
        except Exception as exc:
            # Unknown whether it may go: not now. Its lease brings it back.
            log.warning("send withdrawn: the pre-send check failed (%s)", exc)
            return False

    async def _wait_turn(self, domain: str) -> None:
        assert self.rates is not None
        loop = asyncio.get_running_loop()
        while (wait := await loop.run_in_executor(self._done, self.rates.take, domain)) > 0:
            await asyncio.sleep(min(wait, 1.0))

    def _finish(self, job: Job, result: Result) -> None:
        try:
            job.on_done(result)
        except Exception:
            # The outcome could not be recorded: the lease runs out and the sweeper sends
            # again (the documented duplicate window); never lose the slot.
            log.exception("recording a send's outcome failed")
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        SENDS_IN_FLIGHT.dec()
        self._slots.release()

    def drain(self, timeout: float) -> int:
        """Stop taking work; wait up to ``timeout`` seconds for what is in flight.

        Returns how many sends were still unfinished: their leases bring them back.
        """
        self._closing = True
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        left = self._in_flight
        self._done.shutdown(wait=False)
        if left:
            log.warning(
                "%d send(s) still in flight at shutdown: their leases bring them back", left
            )
        return left


_engines: dict[tuple[int, str], Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings, rates: RateGate | None = None) -> Engine:
    """The process's engine (one per process and relay; never shared across a fork)."""
    key = (os.getpid(), settings.smtp_url)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None or engine.transport.settings != settings:
            engine = _engines[key] = Engine(
                get_transport(settings), settings.smtp_concurrency, rates
            )
        return engine


def drain_all(timeout: float) -> int:
    """Drain every engine of this process (at shutdown); returns sends left unfinished."""
    with _engines_lock:
        engines = [e for (pid, _), e in _engines.items() if pid == os.getpid()]
    return sum(e.drain(timeout) for e in engines)
