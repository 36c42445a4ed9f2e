"""The embedded dev mode: a quiet run, and captured mails named by case and notice id."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from tests.support.events import ROOT
from tests.support.processes import run_cli, worker_env
from worker.net import free_port
from worker.notices.record import notice_id_for
from worker.runtime.dev import case_label, sample_events
from worker.smtp.capture import CaptureServer


def _mail(notice_id: str | None, language: str = "zh-TW") -> bytes:
    msg = EmailMessage()
    msg.set_content("body")  # first: it drops every Content-* header already set
    msg["From"] = "billing@example.com"
    msg["To"] = "admin@example.com"
    msg["Subject"] = "notice"
    msg["Content-Language"] = language
    if notice_id is not None:
        msg["X-Notice-ID"] = notice_id
    return msg.as_bytes()


def test_dev_sample_run_is_quiet_and_names_each_mail_by_case_and_notice(tmp_path: Path) -> None:
    env = worker_env("smtp://127.0.0.1:1")
    env.pop("LOG_LEVEL")
    folder = tmp_path / "captured"
    result = run_cli("dev", "--sample", "--capture-dir", str(folder), env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    # kombu once warned twice per run ("No hostname was supplied").
    assert result.stderr == ""
    expected = {
        f"{event['event_id'].removeprefix('sample-').rsplit('-', 2)[0]}.{event['locale']}."
        f"{notice_id_for(event['event_id'])}.eml"
        for event in sample_events()
    }
    assert len(expected) == 18
    assert {p.name for p in folder.iterdir()} == expected
    invoice = notice_id_for("sample-invoice-zh-TW")
    raw = (folder / f"invoice.zh-TW.{invoice}.eml").read_bytes()
    assert f"X-Notice-ID: {invoice}".encode() in raw


def test_dev_capture_never_overwrites_and_keeps_names_safe(tmp_path: Path) -> None:
    labels = {"n1": "card_expired.zh-TW"}
    with (
        CaptureServer(tmp_path, label=labels.get) as server,
        smtplib.SMTP(server.host, server.port) as client,
    ):
        for raw in (_mail("n1"), _mail("n1"), _mail("n2", "en"), _mail("../../x y"), _mail(None)):
            client.sendmail("billing@example.com", ["admin@example.com"], raw)
    names = [p.name for p in server.handler.paths]
    assert names[:4] == [
        "card_expired.zh-TW.n1.eml",
        "card_expired.zh-TW.n1.2.eml",
        "en.n2.eml",
        "zh-TW.x_y.eml",
    ]
    # A mail that is not a notice: a time stamp and its number in this run.
    assert names[4].endswith("-0005.eml") and names[4][:8].isdigit()
    assert all(p.parent == tmp_path for p in server.handler.paths)


def test_dev_case_label_names_what_an_event_is_about() -> None:
    assert case_label({"payment_method": "credit_card", "reason": "card_expired"}) == (
        "card_expired.en"
    )
    assert case_label(
        {"payment_method": "invoice", "locale": "zh_TW", "subscription_status": "disabled"}
    ) == ("invoice-disabled.zh-TW")
    assert case_label(["not", "an", "object"]) == "event"


def test_dev_keep_running_serves_the_ops_pages_on_its_own_store(tmp_path: Path) -> None:
    env = worker_env("smtp://127.0.0.1:1")
    port = free_port()
    args = [
        "dev",
        "--sample",
        "--keep-running",
        "--port",
        str(port),
        "--capture-dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("running;"):
                break
        assert f"preview and ops pages on http://127.0.0.1:{port}/" in "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/notices", timeout=10) as page:
            html = page.read().decode()
        # The notices of this run's embedded store, which a separate `web` cannot see.
        assert html.count("sample-") >= 18
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def test_dev_keep_running_refuses_a_busy_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "dev",
            "--sample",
            "--keep-running",
            "--port",
            str(port),
            "--capture-dir",
            str(tmp_path),
            env=worker_env("smtp://127.0.0.1:1"),
        )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and str(port) in result.stderr
    assert not list(tmp_path.iterdir())  # nothing ran
