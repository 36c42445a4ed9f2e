"""Shared fixtures: settings, an in-memory store, a recording SMTP server, a real Redis and
a real Celery worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis

from worker.settings import Settings, from_env
from worker.smtp.capture import free_port
from worker.smtp.server import ServerThread

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
#: The real Redis the end-to-end tests use (a database of its own, flushed per test).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
SECRET = "test-secret-0123456789abcdef"


def make_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1", "subscription_id": "sub-1", "admin_email": "admin@example.com",
        "amount": "1234.50", "currency": "TWD", "payment_method": "credit_card",
        "locale": "zh-TW", "reason": "card_declined", "card_brand": "Visa",
        "card_last4": "4242", "subscription_name": "Team plan",
        "failed_at": "2026-11-20T08:30:00Z",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


@pytest.fixture
def event() -> dict[str, Any]:
    return make_event()


@pytest.fixture
def settings() -> Settings:
    return from_env({"SECRET_KEY": SECRET, "MAIL_FROM": "Billing <billing@example.com>",
                     "SEND_RETRY_DELAYS": "1,2,3", "RETRY_JITTER": "0", "SMTP_TIMEOUT": "5"})


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.flushall()


# -- a recording SMTP server ------------------------------------------------------------
class Recorder:
    """An aiosmtpd handler that records every command and can be told to refuse some."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.mail_options: list[list[str]] = []
        self.rcpt_options: list[list[str]] = []
        self.rcpt_attempts: list[str] = []
        #: address → reply for RCPT, e.g. {"nobody@example.com": "550 5.1.1 No such user"}
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        self.mail_options.append(list(options))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        self.rcpt_attempts.append(address)
        self.rcpt_options.append(list(options))
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content))
        return "250 2.0.0 Ok: queued"


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


# -- real Redis and a real Celery worker -------------------------------------------------
def redis_available(url: str = TEST_REDIS_URL) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


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


def worker_env(smtp_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "REDIS_"))}
    env.update({
        "REDIS_URL": TEST_REDIS_URL, "SMTP_URL": smtp_url, "SECRET_KEY": SECRET,
        "MAIL_FROM": "Billing <billing@example.com>", "SEND_RETRY_DELAYS": "1,1,1",
        "RETRY_JITTER": "0", "SWEEP_INTERVAL": "0.2", "SMTP_TIMEOUT": "5",
        "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str], concurrency: int = 2, pool: str = "prefork",
                 log_path: Path | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.args = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-P", pool,
                     "-c", str(concurrency), "--loglevel=INFO", "--without-mingle",
                     "--without-gossip", "--without-heartbeat", "-n", f"test{free_port()}@%h"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def start(smtp_url: str, concurrency: int = 2, **extra: str) -> WorkerProcess:
        worker = WorkerProcess(worker_env(smtp_url, **extra), concurrency,
                               log_path=tmp_path / f"worker{len(started)}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    for log in tmp_path.glob("worker*.log"):
        if os.environ.get("SHOW_WORKER_LOGS"):
            print(log.read_text(errors="replace")[-5000:])


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", *args], env=env, cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          check=False)


def publish_events(events: list[dict[str, Any]], env: dict[str, str]
                   ) -> subprocess.CompletedProcess[str]:
    """``python -m worker publish -`` with the events as JSON lines."""
    return run_cli("publish", "-", env=env, stdin="\n".join(json.dumps(e) for e in events))


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def show(notice: str, env: dict[str, str]) -> dict[str, Any]:
    result = run_cli("notices", "show", notice, "--json", env=env)
    if result.returncode == 1 and "no notice" in result.stderr:
        return {}
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def make_dsn(*, to: str, recipient: str, action: str = "failed", status: str = "5.1.1",
             diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User "
                               "unknown in local recipient table",
             envid: str | None = None, message_id: str | None = None) -> bytes:
    """An RFC 3464 report as Postfix writes one, addressed to ``to`` (our return path)."""
    boundary = "dsn-boundary-1"
    per_message = "Reporting-MTA: dns; mx.example.net\r\n"
    if envid:
        per_message = f"Original-Envelope-Id: {envid}\r\n" + per_message
    diag = f"Diagnostic-Code: {diagnostic.format(rcpt=recipient)}\r\n" if diagnostic else ""
    returned = (f"Message-ID: {message_id}\r\n" if message_id else "") + (
        "From: Billing <billing@example.com>\r\nSubject: notice\r\n")
    text = (f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
            f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status; "
            f"boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nDelivery report.\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{per_message}\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
            f"Action: {action}\r\nStatus: {status}\r\n{diag}\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n"
            f"--{boundary}--\r\n")
    return text.encode()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault scenarios' summary table (tests/test_faults.py), when any ran."""
    from tests.faults import terminal_summary

    terminal_summary(terminalreporter)
