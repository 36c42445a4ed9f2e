"""A small SMTP server (asyncio, in its own thread) whose every stage can be made to fail.

aiosmtpd has no hook for the greeting, and cannot drop a connection half-way through DATA
or stall after it has read the whole message; this server can. It speaks just enough
ESMTP for aiosmtplib (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no STARTTLS, no DSN) and
keeps, per notice, how often each stage was reached and every message it accepted.

Notices are recognised by the token in the envelope sender (``bounces+<notice id>.…@``),
so a rule can target a notice from MAIL on, before the recipient is known.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from worker.net import free_port

_NOTICE = re.compile(r"\+([0-9a-f]{20})\.")
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)
_ADDR = re.compile(r"<([^>]*)>")

#: Stages a rule can target. ``data`` is the DATA command itself (before 354),
#: ``data_end`` the reply after the final ".".
STAGES = ("connect", "mail", "rcpt", "data", "data_end")


@dataclass
class Rule:
    """Reply ``reply`` at ``stage`` to the first ``times`` attempts of each notice in
    ``ids`` (or, at ``connect``, to the first ``times`` connections)."""

    stage: str
    reply: str
    times: int = 1
    ids: frozenset[str] = frozenset()


@dataclass
class Accepted:
    notice_id: str
    message_id: str
    rcpt: str
    size: int
    at: float


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    #: Close the connection half-way through the message, on the first attempt of these.
    drop_mid_data: frozenset[str] = frozenset()
    #: Read the whole message, keep it (a real relay would deliver it), then say nothing
    #: for ``stall_seconds`` before the 250: the client times out after the final ".".
    stall_after_data: frozenset[str] = frozenset()
    stall_seconds: float = 0.0
    #: 451 4.7.0 at MAIL once a connection has carried this many mails (0: no limit).
    per_connection: int = 0
    #: 451 4.7.0 at MAIL once this many mails were accepted within ``window`` seconds.
    per_window: int = 0
    window: float = 60.0
    #: A little latency before the 250 after DATA (widens the window a crash can hit).
    data_delay: float = 0.0


class FaultSMTPServer:
    def __init__(
        self, faults: Faults | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.faults = faults or Faults()
        self.host = host
        self.port = port or free_port(host)
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        #: stage → Counter(notice id) of how often each notice reached that stage
        self.seen: dict[str, Counter[str]] = {s: Counter() for s in STAGES}
        self.connections = 0
        self.drops = 0
        self.stalls = 0
        self.rate_limited = 0
        self._fired: dict[int, Counter[str]] = {}
        self._recent: deque[float] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> FaultSMTPServer:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._client, self.host, self.port, reuse_address=True)
                )
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-smtp", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop = self._server = None

    def __enter__(self) -> FaultSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened ---------------------------------------------------------------------
    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(a.message_id for a in self.accepted)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.message_ids().values() if n > 1)

    def attempts(self, stage: str, notice_id: str) -> int:
        with self.lock:
            return self.seen[stage][notice_id]

    # -- the protocol -------------------------------------------------------------------
    def _rule_reply(self, stage: str, notice_id: str) -> str | None:
        for n, rule in enumerate(self.faults.rules):
            if rule.stage != stage or (stage != "connect" and notice_id not in rule.ids):
                continue
            fired = self._fired.setdefault(n, Counter())
            if fired[notice_id] < rule.times:
                fired[notice_id] += 1
                return rule.reply
        return None

    def _over_window(self) -> bool:
        f = self.faults
        if not f.per_window:
            return False
        now = time.monotonic()
        while self._recent and now - self._recent[0] > f.window:
            self._recent.popleft()
        return len(self._recent) >= f.per_window

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        with self.lock:
            self.connections += 1
            refusal = self._rule_reply("connect", "")
            self.seen["connect"][""] += 1
        mails_here = 0
        notice_id, rcpt = "", ""
        try:
            if refusal:
                await reply(refusal)
                return
            await reply("220 fault.test ESMTP ready")
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line[:4].upper()
                if verb == "EHLO":
                    await reply("250-fault.test\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 HELP")
                elif verb == "HELO":
                    await reply("250 fault.test")
                elif verb in ("RSET", "NOOP"):
                    notice_id, rcpt = ("", "") if verb == "RSET" else (notice_id, rcpt)
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    return
                elif verb == "MAIL":
                    match = _NOTICE.search(line)
                    notice_id, rcpt = (match.group(1) if match else ""), ""
                    with self.lock:
                        self.seen["mail"][notice_id] += 1
                        answer = self._rule_reply("mail", notice_id)
                        if answer is None and (
                            (
                                self.faults.per_connection
                                and mails_here >= self.faults.per_connection
                            )
                            or self._over_window()
                        ):
                            self.rate_limited += 1
                            answer = "451 4.7.0 Too many messages, slow down"
                    await reply(answer or "250 OK")
                    if answer:
                        notice_id = ""
                        if answer.startswith("421"):
                            return  # 421: the server closes the connection
                elif verb == "RCPT":
                    match = _ADDR.search(line)
                    with self.lock:
                        self.seen["rcpt"][notice_id] += 1
                        answer = self._rule_reply("rcpt", notice_id)
                    if not answer:
                        rcpt = match.group(1) if match else ""
                    await reply(answer or "250 OK")
                    if answer and answer.startswith("421"):
                        return
                elif verb == "DATA":
                    if not rcpt:
                        await reply("503 5.5.1 No valid recipients")
                        continue
                    with self.lock:
                        self.seen["data"][notice_id] += 1
                        answer = self._rule_reply("data", notice_id)
                    if answer:
                        await reply(answer)
                        if answer.startswith("421"):
                            return
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    data = await self._read_data(reader, notice_id, writer)
                    if data is None:
                        return  # dropped half-way
                    await self._end_of_data(notice_id, rcpt, data, reply)
                    mails_here += 1
                    notice_id, rcpt = "", ""
                else:
                    await reply("500 5.5.2 Command not recognized")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _read_data(
        self, reader: asyncio.StreamReader, notice_id: str, writer: asyncio.StreamWriter
    ) -> bytes | None:
        lines: list[bytes] = []
        drop = False
        with self.lock:
            if (
                notice_id in self.faults.drop_mid_data
                and not self._fired.get(-1, Counter())[notice_id]
            ):
                self._fired.setdefault(-1, Counter())[notice_id] += 1
                drop = True
        while True:
            raw = await reader.readline()
            if not raw:
                raise ConnectionError("client went away during DATA")
            if drop and len(lines) >= 5:
                with self.lock:
                    self.drops += 1
                writer.transport.abort()
                return None
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(raw[1:] if raw.startswith(b"..") else raw)

    async def _end_of_data(
        self, notice_id: str, rcpt: str, data: bytes, send: Callable[[str], Awaitable[None]]
    ) -> None:
        match = _MESSAGE_ID.search(data)
        with self.lock:
            self.seen["data_end"][notice_id] += 1
            answer = self._rule_reply("data_end", notice_id)
            stall = False
            if answer is None:
                self.accepted.append(
                    Accepted(
                        notice_id,
                        match.group(1).decode() if match else "",
                        rcpt,
                        len(data),
                        time.time(),
                    )
                )
                self._recent.append(time.monotonic())
                if (
                    notice_id in self.faults.stall_after_data
                    and not self._fired.get(-2, Counter())[notice_id]
                ):
                    self._fired.setdefault(-2, Counter())[notice_id] += 1
                    self.stalls += 1
                    stall = True
        if stall:
            await asyncio.sleep(self.faults.stall_seconds)
        elif self.faults.data_delay:
            await asyncio.sleep(self.faults.data_delay)
        await send(answer or "250 2.0.0 Ok: queued")
