"""The sending engine: many sends in flight per process, backpressure, draining at shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.support.events import make_event
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.client import Transport
from worker.smtp.engine import Engine, EngineClosed, Job
from worker.smtp.replies import Accepted
from worker.smtp.server import ServerThread


class Slow:
    """A relay that answers DATA after ``delay`` seconds and counts sends in flight."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.most = 0
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        self.received += 1
        return "250 2.0.0 OK"


@pytest.fixture
def slow() -> Any:
    handler = Slow(0.2)
    server = ServerThread(handler)
    server.start()
    yield handler, server
    server.stop()


def _jobs(n: int, results: list[Any], done: threading.Event) -> list[Job]:
    def on_done(result: Any) -> None:
        results.append(result)
        if len(results) == n:
            done.set()

    return [
        Job(b"Subject: x\r\n\r\nbody\r\n", "b@example.com", f"r{i}@example.com", None, on_done)
        for i in range(n)
    ]


def test_engine_sends_many_at_once(settings: Settings, slow: Any) -> None:
    handler, server = slow
    engine = Engine(Transport(settings.with_(smtp_url=server.url, smtp_concurrency=16)), 16)
    results: list[Any] = []
    done = threading.Event()
    for job in _jobs(32, results, done):
        engine.submit(job, wait=10)
    assert done.wait(20)
    assert all(isinstance(r, Accepted) for r in results)
    # Sends overlap up to the engine's bound and never beyond it (counted by the server,
    # not timed: a loaded machine must not fail this).
    assert handler.most == 16
    engine.drain(5)


def test_engine_submit_waits_while_full(settings: Settings, slow: Any) -> None:
    handler, server = slow
    engine = Engine(Transport(settings.with_(smtp_url=server.url, smtp_concurrency=2)), 2)
    results: list[Any] = []
    done = threading.Event()
    jobs = _jobs(3, results, done)
    engine.submit(jobs[0], wait=1)
    engine.submit(jobs[1], wait=1)
    assert engine.in_flight == 2
    with pytest.raises(TimeoutError):
        engine.submit(jobs[2], wait=0.01)  # full: the caller keeps its notice scheduled
    engine.submit(jobs[2], wait=5)  # a slot frees once a send is recorded
    assert done.wait(10) and handler.most <= 2
    engine.drain(5)


def test_engine_drain_finishes_in_flight_and_refuses_more(settings: Settings, slow: Any) -> None:
    _handler, server = slow
    engine = Engine(Transport(settings.with_(smtp_url=server.url)), 8)
    results: list[Any] = []
    done = threading.Event()
    for job in _jobs(4, results, done):
        engine.submit(job, wait=1)
    assert engine.drain(10) == 0 and len(results) == 4
    with pytest.raises(EngineClosed):
        engine.submit(_jobs(1, results, done)[0], wait=1)


def test_engine_pipeline_hands_over_and_records_later(
    settings: Settings, fake_redis: Any, slow: Any
) -> None:
    _handler, server = slow
    config = settings.with_(smtp_url=server.url)
    engine = Engine(Transport(config), 8)
    pipeline = Pipeline(config, fake_redis, engine=engine)
    intake = pipeline.handle_event(make_event())
    # Handed over: the task is done while the relay still thinks.
    assert intake.status == "queued"
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert record["lease_until"] and record["attempts"] == "1"
    assert engine.drain(10) == 0
    assert (pipeline.tracker.get(intake.notice_id or "") or {})["status"] == "sent"


def test_engine_full_gives_the_claim_back(settings: Settings, fake_redis: Any, slow: Any) -> None:
    _handler, server = slow
    config = settings.with_(smtp_url=server.url, smtp_timeout=0.1)  # lease/3 ~ 10 s wait
    engine = Engine(Transport(config), 1)
    engine.drain(0)  # closed: nothing is taken
    pipeline = Pipeline(config, fake_redis, engine=engine)
    intake = pipeline.handle_event(make_event())
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert record["status"] == "queued" and record["attempts"] == "0"
    assert not record.get("lease_until")
    time.sleep(1.1)
    assert pipeline.tracker.due() == [intake.notice_id]


class Hold:
    """A rate gate that holds the first send back for ``seconds`` (its turn not yet come)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked = 0

    @property
    def limits_rate(self) -> bool:
        return True

    def take(self, domain: str) -> float:
        self.asked += 1
        return self.seconds if self.asked == 1 else 0.0


def test_engine_withdraws_a_send_whose_sequence_closed_while_it_waited(
    settings: Settings, fake_redis: Any, slow: Any
) -> None:
    from tests.support.sequences import make_payment
    from worker.intake.kinds import EventType

    handler, server = slow
    config = settings.with_(smtp_url=server.url)
    engine = Engine(Transport(config), 4, rates=Hold(0.5))
    pipeline = Pipeline(config, fake_redis, engine=engine)
    intake = pipeline.handle_event(make_event(invoice_id="in-1"))
    assert intake.status == "queued"  # claimed, rendered and handed over: waiting its turn
    pipeline.handle(make_payment(invoice_id="in-1"), EventType.PAYMENT_SUCCEEDED)
    assert engine.drain(10) == 0
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert record["status"] == "cancelled"
    assert "found just before sending" in record["last_error"]
    assert handler.received == 0


def test_engine_job_refused_by_its_check_is_not_sent(settings: Settings, slow: Any) -> None:
    handler, server = slow
    engine = Engine(Transport(settings.with_(smtp_url=server.url)), 2)
    results: list[Any] = []
    job = Job(
        b"Subject: x\r\n\r\nbody\r\n",
        "b@example.com",
        "r@example.com",
        None,
        results.append,
        confirm=lambda: False,
    )
    engine.submit(job, wait=1)
    assert engine.drain(5) == 0
    assert results == [] and handler.received == 0
