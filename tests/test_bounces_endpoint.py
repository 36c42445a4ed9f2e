"""The public bounce endpoint's limits: sessions, idle time, spool copies and their retention."""

from __future__ import annotations

import os
import smtplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bounces import make_dsn
from tests.support.processes import wait_for
from worker.bounces.ingest import BounceProcessor
from worker.bounces.server import make_server
from worker.bounces.spool import Spool
from worker.net import free_port
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.server import ServerThread


@pytest.fixture
def pipeline(settings: Settings, fake_redis: Any) -> Pipeline:
    return Pipeline(settings, fake_redis)


def _serve(pipeline: Pipeline, spool: Spool | None = None, **limits: Any) -> ServerThread:
    settings = pipeline.settings.with_(**limits)
    processor = BounceProcessor(pipeline.tracker, pipeline.suppressions, settings, spool)
    server = make_server(processor, settings, "127.0.0.1", free_port())
    server.start()
    return server


@pytest.fixture
def limited(pipeline: Pipeline) -> Iterator[ServerThread]:
    server = _serve(
        pipeline,
        bounce_max_connections=4,
        bounce_max_connections_per_peer=2,
        bounce_idle_timeout=1.0,
    )
    yield server
    server.stop()


def _greeting(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock, sock.recv(200)


def test_bounces_endpoint_limits_sessions_per_peer(limited: ServerThread) -> None:
    first, hello1 = _greeting(limited.port)
    second, hello2 = _greeting(limited.port)
    third, hello3 = _greeting(limited.port)
    try:
        assert hello1.startswith(b"220") and hello2.startswith(b"220")
        assert hello3.startswith(b"421 4.7.0")
    finally:
        for sock in (first, second, third):
            sock.close()
    # Once the others are gone, the peer may connect again.
    wait_for(lambda: not limited.sessions, timeout=5)
    again, hello = _greeting(limited.port)
    again.close()
    assert hello.startswith(b"220")


def test_bounces_endpoint_limits_sessions_in_all(pipeline: Pipeline) -> None:
    server = _serve(pipeline, bounce_max_connections=2, bounce_max_connections_per_peer=10)
    socks = []
    try:
        greetings = []
        for _ in range(3):
            sock, hello = _greeting(server.port)
            socks.append(sock)
            greetings.append(hello[:3])
        assert greetings == [b"220", b"220", b"421"]
    finally:
        for sock in socks:
            sock.close()
        server.stop()


def test_bounces_endpoint_closes_idle_sessions(limited: ServerThread) -> None:
    sock, hello = _greeting(limited.port)
    try:
        assert hello.startswith(b"220")
        sock.settimeout(5)
        started = time.monotonic()
        rest = sock.recv(200)  # nothing sent: the server hangs up after its idle timeout
        assert time.monotonic() - started < 4
        assert rest == b"" or rest.startswith(b"421")
    finally:
        sock.close()


def test_bounces_endpoint_keeps_one_spool_copy_per_message(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool", retention_days=30)
    server = _serve(pipeline, spool)
    try:
        others = tuple(f"unknown{i}@example.org" for i in range(40))
        dsn = make_dsn(to="bounces@example.com", recipient="a@example.org", also=others)
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.sendmail("MAILER-DAEMON@mx.example.net", ["bounces@example.com"], dsn)
    finally:
        server.stop()
    assert len(list((tmp_path / "spool").glob("*.eml"))) == 1
    unmatched = BounceProcessor(pipeline.tracker, pipeline.suppressions, pipeline.settings)
    entries = unmatched.unmatched()
    assert len(entries) == 41 and len({e["file"] for e in entries}) == 1


def test_bounces_endpoint_spool_prunes_past_retention(tmp_path: Path) -> None:
    spool = Spool(tmp_path, retention_days=2)
    old = spool.keep(b"Subject: old\r\n\r\nx\r\n", "unmatched")
    new = spool.keep(b"Subject: new\r\n\r\nx\r\n", "unmatched")
    three_days_ago = time.time() - 3 * 86400
    os.utime(old, (three_days_ago, three_days_ago))
    assert spool.prune() == 1
    assert not old.exists() and new.exists()
