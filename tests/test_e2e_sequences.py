"""End to end, sequences: a real Redis, Celery worker and SMTP server; failure, payment."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.processes import publish_events, run_cli, show, wait_for, worker_env
from tests.support.sequences import make_payment
from tests.support.smtpd import Recorder
from worker.smtp.server import ServerThread

pytestmark = pytest.mark.e2e

#: Long enough for the payment to be published (a CLI start-up) before the reminder is due.
REMINDER_AFTER = 20.0


def _history(event_id: str, env: dict[str, str]) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = (show(event_id, env).get("sequence") or {}).get("history", [])
    return history


def _steps(event_id: str, env: dict[str, str]) -> dict[str, str]:
    view = show(event_id, env).get("sequence") or {}
    return {f"{s['step']}{s['step_no']}": s["status"] for s in view.get("steps", [])}


def test_e2e_payment_cancels_the_scheduled_reminder_and_nothing_is_sent_after_it(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env = worker_env(smtp_server.url, REMINDER_SCHEDULE=f"{REMINDER_AFTER:.0f}s")
    start_worker(smtp_server.url, REMINDER_SCHEDULE=f"{REMINDER_AFTER:.0f}s")
    started = time.monotonic()
    failure = make_event(event_id="seq-fail", subscription_id="sub-e2e", invoice_id="in-1")
    assert publish_events([failure], env).returncode == 0
    wait_for(lambda: _steps("seq-fail", env) == {"first1": "sent", "reminder1": "scheduled"})
    assert len(recorder.messages) == 1
    # A retry that failed again joins the sequence: recorded, no mail of its own.
    retry = dict(failure, event_id="seq-fail-2", attempt=2)
    assert publish_events([retry], env).returncode == 0
    # Joined before the payment is published: two workers could take them in either
    # order, and a failure older than a payment already known is stale (a cancelled
    # notice of its own), which is another test's case.
    wait_for(lambda: any(h.get("event_id") == "seq-fail-2" for h in _history("seq-fail", env)))
    payment = make_payment(event_id="seq-pay", subscription_id="sub-e2e", invoice_id="in-1")
    result = publish_events([payment], env)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: _steps("seq-fail", env) == {"first1": "sent", "reminder1": "cancelled"})
    assert time.monotonic() - started < REMINDER_AFTER, "the payment came too late to test"
    # Past the reminder's time, with the sweeper running every 0.2 s: still one mail.
    time.sleep(max(0.0, REMINDER_AFTER + 2 - (time.monotonic() - started)))
    assert len(recorder.messages) == 1
    view = show("seq-pay", env)["sequence"]
    assert view["state"] == "closed" and view["closed_by"] == "seq-pay"
    kinds = [(h.get("event_id"), h["status"]) for h in view["history"]]
    assert kinds == [("seq-fail", "open"), ("seq-fail-2", "open"), ("seq-pay", "closed")]
    listing = run_cli("notices", "list", "--subscription", "sub-e2e", "--json", env=env)
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(r["step"], r["step_no"], r["status"]) for r in rows] == [
        ("first", 1, "sent"),
        ("reminder", 1, "cancelled"),
    ]
    replay = run_cli("replay", rows[1]["id"], env=env)
    assert "sequence is closed" in replay.stdout + replay.stderr


def test_e2e_reminder_goes_out_when_due_while_unpaid(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env = worker_env(smtp_server.url, REMINDER_SCHEDULE="2s")
    start_worker(smtp_server.url, REMINDER_SCHEDULE="2s")
    event = make_event(event_id="seq-due", subscription_id="sub-due", locale="en")
    assert publish_events([event], env).returncode == 0
    wait_for(lambda: _steps("seq-due", env) == {"first1": "sent", "reminder1": "sent"})
    assert len(recorder.messages) == 2
    assert len({raw.split(b"Message-ID:")[1][:40] for _, _, raw in recorder.messages}) == 2
