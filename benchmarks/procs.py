"""Celery worker processes for the benchmark: start, wait ready, CPU and RSS from /proc, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICK = float(os.sysconf("SC_CLK_TCK"))
#: Every process this run started, so that an exception or Ctrl-C still stops them all.
_STARTED: list[subprocess.Popen[bytes]] = []


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def cpu_seconds(pid: int) -> float:
    """user+sys of one process, plus that of its children it has already waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICK


def _status_kb(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Worker:
    """One ``celery worker`` process (and its pool children)."""

    app: str
    env: dict[str, str]
    pool: str = "prefork"
    concurrency: int = 2
    queue: str | None = None
    log_path: Path | None = None
    name: str = "bench"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Worker:
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.app,
            "worker",
            "-P",
            self.pool,
            "-c",
            str(self.concurrency),
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-n",
            f"{self.name}@%h",
        ]
        if self.queue:
            args += ["-Q", self.queue]
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_bytes(b"")
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            args,
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _STARTED.append(self.proc)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def ready(self) -> bool:
        """Celery logs ``<name>@<host> ready.`` once its consumer listens."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited: {self.tail()}")
        if self.log_path is None:
            return False
        text = self.log_path.read_text(errors="replace")
        return f"{self.name}@" in text and " ready." in text

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} not ready after {timeout} s: {self.tail()}")
            time.sleep(0.1)
        if self.pool == "prefork":
            # The pool's children exist (forked before the consumer started); give them a
            # moment to finish their own start-up so none of it counts as work.
            deadline = time.monotonic() + 10
            while len(tree(self.pid)) < self.concurrency + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(0.3)

    def cpu(self) -> float:
        """CPU seconds (user+sys) of the worker, its live children and its reaped ones."""
        return sum(cpu_seconds(p) for p in tree(self.pid))

    def peak_rss_kb(self) -> int:
        return sum(_status_kb(p, "VmHWM") for p in tree(self.pid))

    def rss_kb(self) -> int:
        return sum(_status_kb(p, "VmRSS") for p in tree(self.pid))

    def tail(self, chars: int = 3000) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        _stop(self.proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        # The worker is the leader of its own session: signal the group it leads (its pool
        # children), then wait; kill the same group if it does not go.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    else:
        # Leftover pool children of a worker that died.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc in _STARTED:
        _STARTED.remove(proc)


def stop_all() -> None:
    """Stop every worker this process started and has not stopped yet."""
    for proc in list(_STARTED):
        _stop(proc)


class Group:
    """Several workers started together and measured as one."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    def start(self) -> Group:
        for w in self.workers:
            w.start()
        for w in self.workers:
            w.wait_ready()
        return self

    def cpu(self) -> float:
        return sum(w.cpu() for w in self.workers)

    def peak_rss_kb(self) -> int:
        return sum(w.peak_rss_kb() for w in self.workers)

    def rss_kb(self) -> int:
        return sum(w.rss_kb() for w in self.workers)

    def pids(self) -> list[int]:
        return [p for w in self.workers for p in tree(w.pid)]

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
