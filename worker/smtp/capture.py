"""An SMTP server that keeps every mail it receives as a .eml file (dev mode, tests)."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from worker.net import free_port
from worker.smtp.server import ServerThread


class CaptureHandler:
    """Writes each message to ``folder`` and keeps (envelope sender, recipients, bytes)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.messages: list[tuple[str, list[str], bytes]] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        if folder:
            folder.mkdir(parents=True, exist_ok=True)

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
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.folder / f"{stamp}-{n:04d}.eml"
            path.write_bytes(f"Return-Path: <{sender}>\r\n".encode() + content)
        return "250 2.0.0 OK: captured"


class CaptureServer:
    def __init__(
        self,
        folder: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        **smtp_kwargs: Any,
    ) -> None:
        self.handler = CaptureHandler(folder)
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
