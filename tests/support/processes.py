"""Real processes for end-to-end tests: Redis, Celery workers and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import redis

from tests.support.events import ROOT, SECRET
from worker.net import free_port

#: The real Redis the end-to-end tests use (a database of its own, flushed per test).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_available(url: str = TEST_REDIS_URL) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def worker_env(smtp_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "REDIS_"))}
    env.update(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "SMTP_URL": smtp_url,
            "SECRET_KEY": SECRET,
            "MAIL_FROM": "Billing <billing@example.com>",
            "SEND_RETRY_DELAYS": "1,1,1",
            "RETRY_JITTER": "0",
            "SWEEP_INTERVAL": "0.2",
            "SMTP_TIMEOUT": "5",
            "LOG_LEVEL": "INFO",
            # The suite's Redis keeps nothing on disk; a throwaway store is what it is.
            "ALLOW_VOLATILE_REDIS": "true",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(
        self,
        env: dict[str, str],
        concurrency: int = 2,
        pool: str = "prefork",
        log_path: Path | None = None,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "-P",
            pool,
            "-c",
            str(concurrency),
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-n",
            f"test{free_port()}@%h",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> WorkerProcess:
        self._log = self.log_path.open("ab") if self.log_path else None
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=ROOT,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def publish_events(
    events: list[dict[str, Any]], env: dict[str, str]
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
