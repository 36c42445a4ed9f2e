"""The web app's logs: one masked access line per request, waitress as the server."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import ROOT
from tests.test_web import Recorder, build_app
from worker import logs
from worker.cli import main
from worker.net import free_port
from worker.settings import Settings, configure
from worker.web.access import request_line

TOKEN = "ops-token-LOGS-Zq7xW4k9"
ADDRESS = "alice@example.com"


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Whatever a test does to the root logger is undone afterwards."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    yield
    for handler in list(root.handlers):
        if handler not in before[0]:
            root.removeHandler(handler)
    root.setLevel(before[1])


# -- the helpers ---------------------------------------------------------------------------
def test_redact_query_masks_token_addresses_and_secrets() -> None:
    query = f"status=failed&token={TOKEN}&address=alice%40example.com&q=x-{TOKEN}-y&to=bob"
    assert logs.redact_query(query, [TOKEN]) == (
        "status=failed&token=***&address=a***%40example.com&q=x-***-y&to=***"
    )


def test_redact_query_masks_every_spelling_of_the_token_and_line_breaks() -> None:
    assert logs.redact_query("TOKEN=abc&tok%65n=def") == "TOKEN=***&token=***"
    assert logs.redact_query(f"{TOKEN}=", [TOKEN]) == "***="
    out = logs.redact_query("q=a%0D%0A%7B%22level%22%3A+%22error%22%7D&n=alice%40example.com")
    assert "\n" not in out and "\r" not in out and '"' not in out
    assert ADDRESS not in out and "alice%40" not in out


def test_redact_path_masks_addresses_and_secrets_per_segment() -> None:
    out = logs.redact_path(f"/notices/{ADDRESS}/{TOKEN}/x y", [TOKEN])
    assert out == "/notices/a***%40example.com/***/x%20y"


def test_request_line_decodes_wsgi_text_before_masking() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/notices/é".encode().decode("latin-1"),
        "QUERY_STRING": f"token={TOKEN}&address={ADDRESS}",
    }
    assert request_line(environ, [TOKEN]) == (
        "GET /notices/%C3%A9?token=***&address=a***%40example.com"
    )


def test_formatter_masks_configured_secrets_and_token_parameters(root_logging: None) -> None:
    stream = io.StringIO()
    logs.setup("INFO", "json", stream=stream, secrets=["smtp-pass-9", TOKEN])
    log = logging.getLogger("tests.web.logs")
    log.info("relay said no to smtp-pass-9")
    log.info("someone opened /notices?status=failed&token=guessed-wrong-123")
    log.warning("%s appeared", TOKEN)
    lines = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert lines == [
        "relay said no to ***",
        "someone opened /notices?status=failed&token=***",
        "*** appeared",
    ]
    text = io.StringIO()
    logs.setup("INFO", "text", stream=text, secrets=[TOKEN])
    log.info("token %s to %s", TOKEN, ADDRESS)
    assert text.getvalue().strip() == "INFO    tests.web.logs: token *** to a***@example.com"


# -- the access log ---------------------------------------------------------------------------
def test_access_log_one_masked_line_per_request(
    settings: Settings, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    client = build_app(settings.with_(ops_token=TOKEN), None, rec).test_client()
    with caplog.at_level(logging.INFO, logger="worker.web.access"):
        assert client.get(f"/notices?token={TOKEN}&address={ADDRESS}").status_code == 303
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "worker.web.access"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("GET /notices?token=***&address=a***%40example.com 303 ")
    assert lines[1].startswith("GET /healthz 400 ")
    assert all(TOKEN not in line and "alice" not in line for line in lines)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


# -- the command line ------------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["web", "preview"])
@pytest.mark.parametrize("port", ["0", "65536", "-1", "eighty"])
def test_cli_web_port_outside_range_is_a_usage_error(
    verb: str, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([verb, "--port", port])
    assert info.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_cli_web_sets_up_masked_logging_from_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    import worker.cli.web as web

    seen: list[Any] = []

    class Idle:
        effective_port = 1

        def run(self) -> None:
            root = logging.getLogger()
            seen.extend(h.formatter for h in root.handlers if getattr(h, "_pdn", False))
            seen.append(root.level)

        def close(self) -> None:
            pass

    monkeypatch.setattr(web, "make_server", lambda app, host, port: Idle())
    configure(
        settings.with_(
            ops_token=TOKEN, log_level="DEBUG", log_format="text", allow_volatile_redis=True
        )
    )
    try:
        assert main(["web", "--port", "8000"]) == 0
    finally:
        configure(None)
    formatter, level = seen
    assert isinstance(formatter, logs.TextFormatter) and level == logging.DEBUG
    assert TOKEN in formatter.secrets and settings.secret_key in formatter.secrets
    # waitress's lines reach that handler: its logger has none of its own and propagates.
    waitress_log = logging.getLogger("waitress")
    assert waitress_log.handlers == [] and waitress_log.propagate


def test_cli_web_port_in_use_exits_2(
    settings: Settings, capsys: pytest.CaptureFixture[str], root_logging: None
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        configure(settings.with_(redis_url="memory://"))
        try:
            assert main(["web", "--port", str(taken.getsockname()[1])]) == 2
        finally:
            configure(None)
    assert "cannot listen on 127.0.0.1 port" in capsys.readouterr().err


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_cli_web_real_server_logs_neither_token_nor_address(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "OPS_TOKEN": TOKEN,
        "SECRET_KEY": "secret-key-LOGS-1234567890",
        "REDIS_URL": "memory://",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "web", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        login = _get(port, f"/notices?token={TOKEN}&address={ADDRESS}")
        assert login.status == 303
        assert login.getheader("Server") == "past-due-notices"  # waitress, not Werkzeug
        cookie = (login.getheader("Set-Cookie") or "").split(";", 1)[0]
        page = _get(port, login.getheader("Location") or "", {"Cookie": cookie})
        assert page.status == 200
        assert _get(port, f"/nope?address={ADDRESS}", {"Cookie": cookie}).status == 404
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    captured = out + err
    for secret in (TOKEN, ADDRESS, "alice%40example.com", "secret-key-LOGS"):
        assert secret not in captured, secret
    # Every line on stderr went through the JSON formatter; the access lines are there.
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    access = [line["msg"] for line in lines if line["logger"] == "worker.web.access"]
    assert access[0].startswith("GET /notices?token=***&address=a***%40example.com 303 ")
    assert access[1].startswith("GET /notices?address=a***%40example.com 200 ")
    assert len(access) == 3 and access[2].startswith("GET /nope?address=a***")


def test_secrets_of_holds_url_passwords_encoded_and_decoded(settings: Settings) -> None:
    from worker.web.security import secrets_of

    found = secrets_of(
        settings.with_(ops_token=TOKEN, smtp_url="smtp://u:p%40ss-w0rd-1@relay.example.com:587")
    )
    assert {TOKEN, settings.secret_key, "p%40ss-w0rd-1", "p@ss-w0rd-1"} <= set(found)
