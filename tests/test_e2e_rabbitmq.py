"""RabbitMQ as the broker (Redis stays the store): a notice goes out end to end."""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.events import make_event
from tests.support.processes import publish_events, show, wait_for, worker_env
from tests.support.smtpd import Recorder
from worker.smtp.server import ServerThread

#: The machines that run the suite have a RabbitMQ server on loopback (guest/guest).
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def rabbitmq_answers(url: str = AMQP_URL) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


@pytest.mark.e2e
def test_e2e_rabbitmq_broker_sends_one_notice_per_event(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    if not rabbitmq_answers():
        pytest.skip(f"no RabbitMQ answers at {urlsplit(AMQP_URL).netloc.rpartition('@')[2]}")
    start_worker(smtp_server.url, BROKER_URL=AMQP_URL)
    env = worker_env(smtp_server.url, BROKER_URL=AMQP_URL)
    run = os.urandom(4).hex()
    events = [make_event(event_id=f"amqp-{run}-{i}") for i in range(3)]
    # The second copy of each event is a duplicate: still one mail per event.
    assert publish_events(events + events, env).returncode == 0
    for event in events:
        wait_for(lambda e=event: show(e["event_id"], env).get("status") == "sent")
    mine = [raw for _, _, raw in recorder.messages if f"amqp-{run}-".encode() in raw]
    assert len(mine) == 3
