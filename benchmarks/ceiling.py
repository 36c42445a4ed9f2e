"""The transport ceiling: a task that only sends one pre-rendered mail over a kept connection."""

from __future__ import annotations

import os
import smtplib
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from celery import Celery

QUEUE = "bench.ceiling"
TASK = "bench.ceiling.send"
SENDER = "bounces@example.com"

app = Celery("ceiling", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12"))
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

_smtp = urlsplit(os.environ.get("SMTP_URL", "smtp://127.0.0.1:25"))
_mail_path = os.environ.get("BENCH_CEILING_MAIL")
#: Rendered once, before the run, by the benchmark (our own renderer and MIME builder).
MAIL = Path(_mail_path).read_bytes() if _mail_path else b"Subject: ceiling\r\n\r\nceiling\r\n"
#: One connection per worker process and thread, kept across tasks (never across a fork:
#: keyed by pid; never shared by two threads of a ``-P threads`` pool).
_local = threading.local()


def connection() -> smtplib.SMTP:
    held: tuple[int, smtplib.SMTP] | None = getattr(_local, "conn", None)
    if held is None or held[0] != os.getpid():
        client = smtplib.SMTP(_smtp.hostname or "127.0.0.1", _smtp.port or 25, timeout=30)
        client.ehlo()
        held = (os.getpid(), client)
        _local.conn = held
    return held[1]


@app.task(name=TASK)
def send(payload: dict[str, Any]) -> None:
    data = b"X-Event-ID: " + str(payload["event_id"]).encode() + b"\r\n" + MAIL
    recipient = str(payload["admin_email"])
    try:
        connection().sendmail(SENDER, [recipient], data)
    except smtplib.SMTPServerDisconnected:
        _local.conn = None
        connection().sendmail(SENDER, [recipient], data)
