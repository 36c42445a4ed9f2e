"""Shared fixtures: settings, an in-memory store, a recording SMTP server, a real Redis and
a real Celery worker process (helpers live in tests/support/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis

from tests.support.events import SECRET, make_event
from tests.support.processes import TEST_REDIS_URL, WorkerProcess, redis_available, worker_env
from tests.support.smtpd import Recorder
from worker.settings import Settings, from_env
from worker.smtp.server import ServerThread


@pytest.fixture
def event() -> dict[str, Any]:
    return make_event()


@pytest.fixture
def settings() -> Settings:
    return from_env(
        {
            "SECRET_KEY": SECRET,
            "MAIL_FROM": "Billing <billing@example.com>",
            "SEND_RETRY_DELAYS": "1,2,3",
            "RETRY_JITTER": "0",
            "SMTP_TIMEOUT": "5",
        }
    )


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.flushall()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def smtp_server(recorder: Recorder) -> Iterator[ServerThread]:
    """A real SMTP server on loopback (aiosmtpd) that offers DSN and records everything."""
    server = ServerThread(recorder, advertise_dsn=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def real_redis() -> Iterator[redis.Redis]:
    if not redis_available():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not answering at {TEST_REDIS_URL}")
        pytest.skip(f"Redis is not answering at {TEST_REDIS_URL}")
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def start(smtp_url: str, concurrency: int = 2, **extra: str) -> WorkerProcess:
        worker = WorkerProcess(
            worker_env(smtp_url, **extra),
            concurrency,
            log_path=tmp_path / f"worker{len(started)}.log",
        ).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    for log in tmp_path.glob("worker*.log"):
        if os.environ.get("SHOW_WORKER_LOGS"):
            print(log.read_text(errors="replace")[-5000:])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault scenarios' summary table (tests/test_faults.py), when any ran."""
    from tests.faults import terminal_summary

    terminal_summary(terminalreporter)
