"""Helpers for the fault-injection scenarios (tests/test_faults.py): batches, end-state
checks and the summary table printed at the end of the run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from worker.net import free_port
from worker.notices import keys
from worker.notices.keys import SCHED
from worker.notices.record import notice_id_for
from worker.notices.status import SETTLED

#: Events per scenario; raise it with FAULTS_N=1000 for a longer soak.
N = int(os.environ.get("FAULTS_N", "200"))
#: Worker settings that keep every scenario short: quick retries, a fast sweeper, a short
#: SMTP timeout (the lease of a lost worker is SMTP_TIMEOUT * 8 + 30 s).
FAST = {
    "SEND_RETRY_DELAYS": "0.5,1,1,2,2",
    "RETRY_JITTER": "0",
    "SWEEP_INTERVAL": "0.2",
    "SMTP_TIMEOUT": "2",
    "LOG_LEVEL": "WARNING",
}

#: One row per scenario, printed by ``terminal_summary`` (hooked in tests/conftest.py).
ROWS: list[dict[str, Any]] = []


def batch(prefix: str, n: int = N, **overrides: Any) -> list[dict[str, Any]]:
    from tests.support.events import make_event

    return [
        make_event(
            event_id=f"{prefix}-{i}",
            admin_email=f"{prefix}-{i}@example.com",
            subscription_id=f"sub-{prefix}-{i}",
            **overrides,
        )
        for i in range(n)
    ]


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [notice_id_for(e["event_id"]) for e in events]


def publish(
    events: list[dict[str, Any]], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    from tests.support.processes import run_cli

    return run_cli(
        "publish", "-", env=env, timeout=timeout, stdin="\n".join(json.dumps(e) for e in events)
    )


def statuses(client: redis.Redis, notice_ids: list[str]) -> dict[str, str | None]:
    pipe = client.pipeline(transaction=False)
    for nid in notice_ids:
        pipe.hget(keys.notice(nid), "status")
    return dict(zip(notice_ids, pipe.execute(), strict=True))


def in_flight(client: redis.Redis, notice_ids: list[str]) -> int:
    """How many of these notices hold a send lease: claimed for a send and not settled yet
    (waiting in a worker's engine or on the wire)."""
    pipe = client.pipeline(transaction=False)
    for nid in notice_ids:
        pipe.hexists(keys.notice(nid), "lease_until")
    return sum(1 for held in pipe.execute() if held)


def wait_settled(client: redis.Redis, notice_ids: list[str], timeout: float) -> bool:
    """True once every notice exists and is settled, and nothing is scheduled any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = statuses(client, notice_ids)
        if all(s in SETTLED for s in states.values()) and not client.zcard(SCHED):
            return True
        time.sleep(0.25)
    return False


@dataclass
class Row:
    scenario: str
    events: int
    sent: int
    duplicates: int
    lost: int
    states: Counter[str]
    seconds: float
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        states = ", ".join(f"{k}={v}" for k, v in sorted(self.states.items()))
        return (
            f"{self.scenario:<34} {self.events:>6} {self.sent:>6} {self.duplicates:>5} "
            f"{self.lost:>5} {self.seconds:>6.1f}  {states}"
            + (f"  [{self.notes}]" if self.notes else "")
        )


def record(
    scenario: str,
    client: redis.Redis,
    notice_ids: list[str],
    server: Any,
    started: float,
    events: int | None = None,
    notes: str = "",
) -> Row:
    """Measure the end state: mails the server accepted (distinct Message-IDs), duplicates
    (the same Message-ID accepted twice), lost (no notice, or a notice never settled)."""
    states = statuses(client, notice_ids)
    lost = sum(1 for s in states.values() if s not in SETTLED)
    mids = server.message_ids() if server is not None else Counter()
    row = Row(
        scenario,
        len(notice_ids) if events is None else events,
        len(mids),
        sum(n - 1 for n in mids.values() if n > 1),
        lost,
        Counter(s or "missing" for s in states.values()),
        time.monotonic() - started,
        notes,
    )
    ROWS.append({"line": row.line()})
    print(row.line())
    return row


def terminal_summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    tr = terminalreporter
    tr.section("fault scenarios")
    tr.write_line(
        f"{'scenario':<34} {'events':>6} {'mails':>6} {'dupes':>5} {'lost':>5} "
        f"{'secs':>6}  final states"
    )
    for row in ROWS:
        tr.write_line(row["line"])


def tail_logs(folder: Path, chars: int = 4000) -> str:
    out = []
    for log in sorted(folder.glob("worker*.log")):
        text = log.read_text(errors="replace")
        out.append(f"--- {log.name} ---\n{text[-chars:]}")
    return "\n".join(out)


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (the prefork pool processes of a worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        fields = re.sub(r"^.*\) ", "", text).split()
        if fields and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


class OwnRedis:
    """A redis-server of our own (AOF on): the scenarios never share a database with other
    test runs, and this one can be stopped and started again on the same port and dir."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis fsyncs the AOF and exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL: Redis dies at once, with whatever its AOF holds."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def own_redis_server(folder: Path) -> OwnRedis:
    if not shutil.which("redis-server"):
        import pytest

        pytest.skip("redis-server is not on PATH")
    folder.mkdir(parents=True, exist_ok=True)
    instance = OwnRedis(folder)
    instance.start()
    return instance
