"""An SMTP sink on loopback that offers DSN, can delay each reply, and reports acceptances."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from worker.smtp.server import LenientSMTP, ServerThread

ROOT = Path(__file__).resolve().parent.parent
#: The id the benchmark can map back to a publish time: our pipeline's X-Notice-ID, or the
#: X-Event-ID the naive and ceiling workers put in their mails.
_ID_HEADER = re.compile(rb"^X-(Notice|Event)-ID:[ \t]*([^\r\n]+)", re.M | re.I)


class DelayedSMTP(LenientSMTP):
    """Waits ``latency`` seconds before each final reply line, as a relay across a network
    would cost a round trip per command; reports a mail once its 250 after DATA is written."""

    def __init__(self, handler: Any, *, latency: float = 0.0, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.sink = handler
        self.latency = latency
        self.accepted_key: str | None = None

    async def push(self, status: Any) -> None:
        if self.latency and status[3:4] == " ":
            await asyncio.sleep(self.latency)
        await super().push(status)
        key = self.accepted_key
        if key is not None and status.startswith("250"):
            self.accepted_key = None
            self.sink.accepted(key)


class SinkHandler:
    """Accepts every mail; writes ``<kind>\\t<id>\\t<epoch>\\t<dsn>`` per accepted mail.

    With ``throttle_domain``, answers RCPT for that domain with Gmail's "slow down" reply
    (``421 4.7.28``) for ``throttle_seconds`` from the first RCPT it sees (whatever the
    domain), as a provider does to a sender that goes too fast."""

    def __init__(
        self, out: IO[str], throttle_domain: str = "", throttle_seconds: float = 0
    ) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.count = 0
        self.throttle_domain = throttle_domain.lower()
        self.throttle_seconds = throttle_seconds
        self.first_rcpt: float | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        now = time.time()
        if self.first_rcpt is None:
            self.first_rcpt = now
        domain = address.rpartition("@")[2].lower()
        if domain == self.throttle_domain and now < self.first_rcpt + self.throttle_seconds:
            return "421 4.7.28 Our system has detected an unusual rate of mail: slow down"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: DelayedSMTP, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        match = _ID_HEADER.search(head)
        kind = match.group(1).decode().lower() if match else "none"
        ident = match.group(2).strip().decode() if match else f"anon-{self.count}"
        dsn = int(
            any(o.upper().startswith(("RET=", "ENVID=")) for o in envelope.mail_options)
            and any(o.upper().startswith("NOTIFY=") for o in envelope.rcpt_options)
        )
        server.accepted_key = f"{kind}\t{ident}\t{{t}}\t{dsn}"
        return "250 2.0.0 Ok: queued"

    def accepted(self, template: str) -> None:
        line = template.replace("{t}", repr(time.time()), 1)
        with self.lock:
            self.count += 1
            self.out.write(line + "\n")
            self.out.flush()


class SinkServer(ServerThread):
    """ServerThread with DSN offered and a per-reply delay."""

    def __init__(self, handler: SinkHandler, latency_ms: float, port: int = 0) -> None:
        super().__init__(handler, port=port, advertise_dsn=True)
        self.latency = latency_ms / 1000.0

    def factory(self) -> DelayedSMTP:
        return DelayedSMTP(
            self.handler, latency=self.latency, advertise_dsn=self.advertise_dsn, **self.SMTP_kwargs
        )


class Acceptances:
    """Reads a sink subprocess's reports in a thread: id → acceptance time."""

    def __init__(self, stream: IO[str]) -> None:
        self.times: dict[str, float] = {}
        self.dsn: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._read, args=(stream,), daemon=True, name="sink-reader"
        )
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            with self.lock:
                self.times[parts[1]] = float(parts[2])
                self.dsn[parts[1]] = parts[3] == "1"

    def snapshot(self, keys: set[str] | dict[str, Any]) -> dict[str, float]:
        with self.lock:
            return {k: self.times[k] for k in keys if k in self.times}

    def count(self, keys: set[str] | dict[str, Any]) -> int:
        with self.lock:
            return sum(1 for k in keys if k in self.times)

    def dsn_count(self, keys: set[str] | dict[str, Any]) -> int:
        with self.lock:
            return sum(1 for k in keys if self.dsn.get(k))


class SinkProcess:
    """The sink in a process of its own, so that it never shares a GIL with the publisher."""

    def __init__(
        self, latency_ms: float, throttle_domain: str = "", throttle_seconds: float = 0
    ) -> None:
        self.latency_ms = latency_ms
        self.throttle = (throttle_domain, throttle_seconds)
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.acceptances: Acceptances | None = None

    def start(self, timeout: float = 20.0) -> SinkProcess:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.sink",
                "--latency-ms",
                str(self.latency_ms),
                "--throttle-domain",
                self.throttle[0],
                "--throttle-seconds",
                str(self.throttle[1]),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        first = self.proc.stdout.readline()
        if not first.startswith("READY ") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"the SMTP sink did not start: {first!r}")
        self.port = int(first.split()[1])
        self.acceptances = Acceptances(self.proc.stdout)
        return self

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--throttle-domain", default="")
    parser.add_argument("--throttle-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    handler = SinkHandler(sys.stdout, args.throttle_domain, args.throttle_seconds)
    server = SinkServer(handler, args.latency_ms, args.port)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with handler.lock:
        sys.stdout.write(f"READY {server.port}\n")
        sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
