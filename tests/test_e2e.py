"""End to end: a real Redis, a real Celery worker process and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
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


def test_e2e_both_locales_arrive_as_localized_multipart_mails(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    zh = make_event(event_id="e2e-zh", admin_email="zh@example.com", locale="zh-TW")
    en = make_event(
        event_id="e2e-en",
        admin_email="en@example.com",
        locale="en-US",
        currency="USD",
        amount="49.00",
    )
    result = publish_events([zh, en], env)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: len(recorder.messages) == 2)
    by_rcpt = {
        rcpts[0]: email.message_from_bytes(raw, policy=email.policy.default)
        for _, rcpts, raw in recorder.messages
    }
    assert set(by_rcpt) == {"zh@example.com", "en@example.com"}
    for address, needle in (("zh@example.com", "信用卡"), ("en@example.com", "card")):
        msg = by_rcpt[address]
        assert msg.get_content_type() == "multipart/alternative"
        assert needle in str(msg["Subject"])
        html = msg.get_body(("html",))
        assert html is not None and 'style="' in html.get_content()
        assert msg.get_body(("plain",)) is not None
    html = by_rcpt["zh@example.com"].get_body(("html",))
    assert html is not None and "向您的信用卡收取費用" in html.get_content()
    for event_id in ("e2e-zh", "e2e-en"):
        assert wait_for(lambda eid=event_id: show(eid, env).get("status") == "sent")


def test_e2e_same_event_three_times_sends_one_mail(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    event = make_event(event_id="e2e-dup")
    for _ in range(3):
        assert publish_events([event], env).returncode == 0
    wait_for(lambda: show("e2e-dup", env).get("status") == "sent")
    wait_for(lambda: real_redis.llen("celery") == 0)
    import time

    time.sleep(1.0)  # let the other two deliveries be processed
    assert len(recorder.messages) == 1
    history = show("e2e-dup", env)["history"]
    assert [h["status"] for h in history] == ["queued", "sent"]


def test_e2e_invalid_event_is_dead_lettered_and_the_next_is_sent(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    # Straight onto the queue (publish would refuse it), as any producer could.
    from celery import Celery

    producer = Celery(broker=env["REDIS_URL"])
    producer.send_task("notices.charge_failed", args=[make_event(event_id="bad", amount=1.5)])
    producer.send_task("notices.charge_failed", args=[make_event(event_id="good")])
    wait_for(lambda: show("good", env).get("status") == "sent")
    listing = run_cli("dead", "list", "--json", env=env)
    dead = [json.loads(line) for line in listing.stdout.splitlines()]
    assert len(dead) == 1
    assert dead[0]["event_id"] == "bad"
    assert dead[0]["field"] == "amount"
    assert len(recorder.messages) == 1


def test_e2e_publish_refuses_invalid_events_naming_each(real_redis: Any) -> None:
    env = worker_env("smtp://127.0.0.1:1")
    result = publish_events(
        [
            make_event(event_id="ok-1"),
            make_event(event_id="x", currency="ZZZ"),
            make_event(event_id="y", card_last4="12345"),
        ],
        env,
    )
    assert result.returncode == 1
    # Named by index and by event id.
    assert "invalid event #1 x: currency" in result.stderr
    assert "invalid event #2 y: card_last4" in result.stderr
    assert "queued event #0 ok-1" in result.stdout


def test_e2e_smtp_down_defers_then_sends_once_it_is_back(
    real_redis: Any, recorder: Recorder, start_worker: Any
) -> None:
    port = free_port()
    url = f"smtp://127.0.0.1:{port}"
    env = worker_env(url)
    start_worker(url, SEND_RETRY_DELAYS="2,2,2,2,2")
    assert publish_events([make_event(event_id="e2e-down")], env).returncode == 0
    wait_for(lambda: show("e2e-down", env).get("status") == "deferred")
    server = ServerThread(recorder, port=port)
    server.start()
    try:
        wait_for(lambda: show("e2e-down", env).get("status") == "sent", timeout=30)
    finally:
        server.stop()
    assert len(recorder.messages) == 1


def test_e2e_recipient_refused_bounces_without_retry(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    recorder.refuse_rcpt["gone@example.com"] = "550 5.1.1 <gone@example.com>: user unknown"
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    assert (
        publish_events(
            [make_event(event_id="e2e-550", admin_email="gone@example.com")], env
        ).returncode
        == 0
    )
    record = wait_for(lambda: (r := show("e2e-550", env)).get("status") == "bounced" and r)
    assert record["attempts"] == 1
    assert record["bounce"].get("status") == "5.1.1"
    import time

    time.sleep(1.5)  # several sweeper rounds
    assert recorder.rcpt_attempts.count("gone@example.com") == 1


def test_e2e_undecodable_message_is_dead_lettered_and_the_next_is_sent(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    from kombu.connection import Connection

    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url)
    with Connection(env["REDIS_URL"]) as conn:
        producer = conn.Producer()
        producer.publish(
            b"\xff\xfe not json {",
            routing_key="celery",
            exchange="",
            content_type="application/json",
            content_encoding="binary",
            headers={"task": "notices.charge_failed", "id": "raw-1"},
        )
    from celery import Celery

    Celery(broker=env["REDIS_URL"]).send_task(
        "notices.charge_failed", args=[make_event(event_id="after-raw")]
    )
    wait_for(lambda: show("after-raw", env).get("status") == "sent")
    dead = [
        json.loads(line) for line in run_cli("dead", "list", "--json", env=env).stdout.splitlines()
    ]
    assert len(dead) == 1
    assert "undecodable" in dead[0]["reason"]


def test_e2e_worker_serves_prometheus_metrics(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    import urllib.request

    port = free_port()
    env = worker_env(smtp_server.url)
    start_worker(smtp_server.url, METRICS_PORT=str(port))
    assert publish_events([make_event(event_id="m-1")], env).returncode == 0
    wait_for(lambda: show("m-1", env).get("status") == "sent")

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return ""

    body = wait_for(lambda: (text := scrape()) and 'notices_total{status="sent"}' in text and text)
    assert 'notices_in_status{status="sent"} 1.0' in body
    assert "notice_send_seconds_count" in body
    # Health: the backlog is empty, nothing is overdue, the engine has nothing in flight.
    assert "notice_queue_depth 0.0" in body
    assert "notice_oldest_due_seconds 0.0" in body
    assert "smtp_sends_in_flight 0.0" in body
    # The sweeper's heartbeat shows once a round has finished.
    body = wait_for(
        lambda: (t := scrape()) and "\nsweeper_last_round_timestamp_seconds " in t and t
    )
    beat = float(body.split("\nsweeper_last_round_timestamp_seconds ")[1].split()[0])
    assert abs(beat - time.time()) < 60


def test_e2e_cli_says_when_the_tracking_store_is_unreachable() -> None:
    env = worker_env("smtp://127.0.0.1:1", REDIS_URL=f"redis://:sekret@127.0.0.1:{free_port()}/0")
    result = run_cli("notices", "list", env=env)
    assert result.returncode == 3
    assert "tracking store" in result.stderr and "not reachable" in result.stderr
    assert "sekret" not in result.stderr and "Traceback" not in result.stderr
