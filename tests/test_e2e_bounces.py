"""End to end: a notice sent by a real worker, then DSNs delivered to `bounces serve` over SMTP."""

from __future__ import annotations

import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bounces import make_dsn
from tests.support.events import ROOT, make_event
from tests.support.processes import publish_events, run_cli, show, wait_for, worker_env
from tests.support.smtpd import Recorder
from worker.net import free_port
from worker.settings import from_env
from worker.smtp.proof import verify
from worker.smtp.server import ServerThread

pytestmark = pytest.mark.e2e


@pytest.fixture
def bounce_port(real_redis: Any, smtp_server: ServerThread, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = worker_env(smtp_server.url)
    log = (tmp_path / "bounces-serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "bounces", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=2) as s:
                    return s.noop()[0] == 250
            except OSError:
                return False

        wait_for(ready, timeout=20)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _send_notice(
    event_id: str, address: str, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> tuple[dict[str, str], str]:
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    result = publish_events([make_event(event_id=event_id, admin_email=address)], env)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: show(event_id, env).get("status") == "sent")
    envelope_sender = next(s for s, rcpts, _ in recorder.messages if rcpts == [address])
    return env, envelope_sender


def _deliver(port: int, to: str, dsn: bytes) -> None:
    # As a receiving MTA relays a bounce: null sender, ESMTP parameters on RCPT.
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("mx.example.net")
        s.sendmail("<>", [to], dsn, rcpt_options=["NOTIFY=NEVER"])


def test_e2e_bounces_failure_dsn_bounces_and_suppresses_the_address(
    bounce_port: int, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env, sender = _send_notice("b-fail", "alice@example.net", smtp_server, recorder, start_worker)
    _deliver(bounce_port, sender, make_dsn(to=sender, recipient="alice@example.net"))
    record = wait_for(lambda: (r := show("b-fail", env)).get("status") == "bounced" and r)
    assert record["bounce"]["status"] == "5.1.1"
    assert record["bounce"]["reason"] == "userunknown"
    assert record["bounce"]["kind"] == "hard"
    listing = run_cli("suppressions", "list", "--json", env=env)
    assert "alice@example.net" in listing.stdout
    # The next event for the bounced address: suppressed, no mail.
    before = len(recorder.messages)
    assert (
        publish_events(
            [make_event(event_id="b-next", admin_email="alice@example.net")], env
        ).returncode
        == 0
    )
    wait_for(lambda: show("b-next", env).get("status") == "suppressed")
    assert len(recorder.messages) == before


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [("delivered", "2.0.0", "delivered"), ("delayed", "4.4.7", "deferred")],
)
def test_e2e_bounces_success_and_delay_dsns_update_the_notice(
    bounce_port: int,
    smtp_server: ServerThread,
    recorder: Recorder,
    start_worker: Any,
    action: str,
    status: str,
    expected: str,
) -> None:
    env, sender = _send_notice(
        f"b-{action}", "bob@example.net", smtp_server, recorder, start_worker
    )
    _deliver(
        bounce_port,
        sender,
        make_dsn(
            to=sender, recipient="bob@example.net", action=action, status=status, diagnostic=""
        ),
    )
    wait_for(lambda: show(f"b-{action}", env).get("status") == expected)
    assert show(f"b-{action}", env)["history"][-1]["report"]["action"] == action


def test_e2e_bounces_forged_token_is_unmatched_and_changes_nothing(
    bounce_port: int, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env, sender = _send_notice("b-forged", "carol@example.net", smtp_server, recorder, start_worker)
    settings = from_env(env)
    assert verify(sender, settings)
    local, domain = sender.split("@")
    forged = f"{local[:-4]}{'0000' if not local.endswith('0000') else '1111'}@{domain}"
    _deliver(bounce_port, forged, make_dsn(to=forged, recipient="carol@example.net"))
    wait_for(lambda: "forged" in run_cli("bounces", "unmatched", "--json", env=env).stdout)
    assert show("b-forged", env)["status"] == "sent"
    assert "carol@example.net" not in run_cli("suppressions", "list", "--json", env=env).stdout


def test_e2e_bounces_endpoint_refuses_to_relay(bounce_port: int) -> None:
    with smtplib.SMTP("127.0.0.1", bounce_port, timeout=10) as s:
        s.ehlo("mx.example.net")
        s.mail("<>")
        code, _ = s.rcpt("someone@elsewhere.example")
    assert code == 550
