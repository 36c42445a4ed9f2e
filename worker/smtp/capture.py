"""An SMTP server that keeps every mail it receives as a .eml file (dev mode, tests)."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from worker.net import free_port
from worker.smtp.server import ServerThread

#: What may go in a file name: the rest of a label or an id becomes "_".
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe(text: str, limit: int = 60) -> str:
    return _UNSAFE.sub("_", text).strip("._")[:limit]


class CaptureHandler:
    """Writes each message to ``folder`` and keeps (envelope sender, recipients, bytes).

    A notice is kept as ``<case>.<notice id>.eml`` (``card_declined.zh-TW.3f2a….eml``):
    ``label`` names the case of a notice id (the dev mode knows the events it
    published); without one, the mail's Content-Language stands in. Another mail for the
    same notice (a replay, a second run) gets ``.2``, ``.3``…; a mail that is not a
    notice keeps a time stamp and a counter.
    """

    def __init__(
        self, folder: Path | None = None, label: Callable[[str], str | None] | None = None
    ) -> None:
        self.folder = folder
        self.label = label
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.paths: list[Path] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        if folder:
            folder.mkdir(parents=True, exist_ok=True)

    def _stem(self, content: bytes, n: int) -> str:
        headers = BytesHeaderParser(policy=compat32).parsebytes(content)
        notice_id = _safe(str(headers.get("X-Notice-ID") or ""))
        if not notice_id:
            return f"{time.strftime('%Y%m%d-%H%M%S')}-{n:04d}"
        case = self.label(notice_id) if self.label else None
        case = _safe(case or str(headers.get("Content-Language") or "") or "notice")
        return f"{case}.{notice_id}"

    def _write(self, stem: str, data: bytes) -> Path:
        assert self.folder is not None
        for k in itertools.count(1):
            path = self.folder / (f"{stem}.eml" if k == 1 else f"{stem}.{k}.eml")
            try:
                with path.open("xb") as fh:  # never overwrites an earlier capture
                    fh.write(data)
            except FileExistsError:
                continue
            return path
        raise AssertionError("unreachable")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode()
        sender = envelope.mail_from or ""
        recipients = list(envelope.rcpt_tos)
        with self._lock:
            self.messages.append((sender, recipients, content))
            n = next(self._counter)
        if self.folder:
            data = f"Return-Path: <{sender}>\r\n".encode() + content
            path = self._write(self._stem(content, n), data)
            with self._lock:
                self.paths.append(path)
        return "250 2.0.0 OK: captured"


class CaptureServer:
    def __init__(
        self,
        folder: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        label: Callable[[str], str | None] | None = None,
        **smtp_kwargs: Any,
    ) -> None:
        self.handler = CaptureHandler(folder, label)
        self.host = host
        self.port = port or free_port(host)
        self.controller = ServerThread(self.handler, hostname=host, port=self.port, **smtp_kwargs)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def __enter__(self) -> CaptureServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
