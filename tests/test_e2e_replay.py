"""End to end: notices that failed while the relay was down, replayed once it is back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.processes import publish_events, run_cli, show, wait_for, worker_env
from tests.support.smtpd import Recorder
from worker.net import free_port
from worker.smtp.server import ServerThread

pytestmark = pytest.mark.e2e


def _publish(events: list[dict[str, Any]], env: dict[str, str]) -> None:
    result = publish_events(events, env)
    assert result.returncode == 0, result.stderr


def _message_ids(recorder: Recorder) -> list[str]:
    import email

    return [email.message_from_bytes(raw)["Message-ID"] for _, _, raw in recorder.messages]


def test_e2e_replay_failed_notices_are_sent_exactly_once(
    real_redis: Any, recorder: Recorder, start_worker: Any
) -> None:
    port = free_port()
    url = f"smtp://127.0.0.1:{port}"
    env = worker_env(url)
    start_worker(url, SEND_RETRY_DELAYS="0.2,0.2")
    ids = [f"r-{n}" for n in range(6)]
    _publish([make_event(event_id=i, admin_email=f"{i}@example.com") for i in ids], env)
    for i in ids:
        wait_for(lambda i=i: show(i, env).get("status") == "failed", timeout=40)
    server = ServerThread(recorder, port=port)
    server.start()
    try:
        dry = run_cli("replay", "--status", "failed", "--dry-run", env=env)
        assert dry.returncode == 0 and dry.stdout.count("would replay") == 6
        time.sleep(1)
        assert recorder.messages == []
        assert all(show(i, env)["status"] == "failed" for i in ids)

        refused = run_cli("replay", "--status", "failed", env=env, stdin="")
        assert refused.returncode == 1 and "--yes" in refused.stderr

        done = run_cli(
            "replay",
            "--status",
            "failed",
            "--yes",
            "--reason",
            "relay outage",
            "--by",
            "oncall",
            env=env,
        )
        assert done.returncode == 0, done.stderr
        for i in ids:
            wait_for(lambda i=i: show(i, env).get("status") == "sent")
        again = run_cli("replay", *ids, "--yes", env=env)
        assert "already sent" in again.stdout
        time.sleep(1.5)
    finally:
        server.stop()
    assert sorted(rcpts[0] for _, rcpts, _ in recorder.messages) == sorted(
        f"{i}@example.com" for i in ids
    )
    assert len(set(_message_ids(recorder))) == 6
    history = show("r-0", env)["history"]
    replay_entry = next(h for h in history if h["detail"].startswith("replayed"))
    assert replay_entry["by"] == "oncall" and replay_entry["reason"] == "relay outage"


def test_e2e_replay_bounced_notice_only_with_a_corrected_address(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    recorder.refuse_rcpt["typo@exampel.com"] = "550 5.1.1 <typo@exampel.com>: no such user"
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    _publish([make_event(event_id="r-bounce", admin_email="typo@exampel.com")], env)
    wait_for(lambda: show("r-bounce", env).get("status") == "bounced")
    plain = run_cli("replay", "r-bounce", "--yes", env=env)
    assert "replay only with --to" in plain.stdout
    same = run_cli("replay", "r-bounce", "--to", "typo@exampel.com", "--yes", env=env)
    assert "the address that bounced" in same.stdout
    fixed = run_cli("replay", "r-bounce", "--to", "admin@example.com", "--yes", env=env)
    assert fixed.returncode == 0, fixed.stderr
    record = wait_for(lambda: (r := show("r-bounce", env)).get("status") == "sent" and r)
    assert record["to"] == "admin@example.com"
    assert "bounce" not in record  # the old address's bounce is history, not the record
    assert recorder.messages[-1][1] == ["admin@example.com"]
    assert record["message_id"].startswith(f"<{record['id']}.1.")  # generation 1, signed


def test_e2e_replay_dead_letter_requeue_after_a_fix(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any, tmp_path: Any
) -> None:
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    from celery import Celery

    Celery(broker=env["REDIS_URL"]).send_task(
        "notices.charge_failed", args=[make_event(event_id="r-dead", amount=10.5)]
    )
    dead = wait_for(lambda: run_cli("dead", "list", "--json", env=env).stdout.strip())
    dead_id = json.loads(dead.splitlines()[0])["id"]
    still = run_cli("dead", "requeue", dead_id, env=env)
    assert still.returncode == 1 and "amount" in still.stderr
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(make_event(event_id="r-dead", amount="10.50")))
    result = run_cli("dead", "requeue", dead_id, "--from-file", str(fixed), env=env)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: show("r-dead", env).get("status") == "sent")
    assert run_cli("dead", "list", "--json", env=env).stdout.strip() == ""
