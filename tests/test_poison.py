"""Poison messages: whatever bytes reach the queue, a dead letter with its reason, and the
worker carries on (pushed with redis-py, never through Celery's producer)."""

from __future__ import annotations

import base64
import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.events import make_event
from tests.support.processes import run_cli, show, wait_for, worker_env
from tests.support.smtpd import Recorder
from worker.intake.producer import CHARGE_FAILED, SEND
from worker.runtime.poison import inspect
from worker.runtime.transport import POISON_TYPE, _loads, _reading_queue, is_envelope
from worker.smtp.server import ServerThread

KNOWN = {CHARGE_FAILED, SEND}


def envelope(
    body: bytes | str, *, task: str | None = CHARGE_FAILED, content_type: str = "application/json"
) -> str:
    """A kombu message envelope as the Redis transport stores it on the list."""
    tid = str(uuid.uuid4())
    headers: dict[str, Any] = {"lang": "py", "id": tid, "root_id": tid, "retries": 0}
    if task is not None:
        headers["task"] = task
    raw = body.encode() if isinstance(body, str) else body
    return json.dumps(
        {
            "body": base64.b64encode(raw).decode(),
            "content-encoding": "utf-8",
            "content-type": content_type,
            "headers": headers,
            "properties": {
                "correlation_id": tid,
                "delivery_mode": 2,
                "priority": 0,
                "delivery_info": {"exchange": "", "routing_key": "celery"},
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


GOOD = make_event(event_id="poison-good")
#: name → (what is pushed onto the queue list, words the dead letter's reason holds)
CASES: dict[str, tuple[str, str]] = {
    "object body": (envelope(json.dumps({"not": "a list"})), "[args, kwargs, embed]"),
    "empty list body": (envelope("[]"), "[args, kwargs, embed]"),
    "string body": (envelope('"str"'), "[args, kwargs, embed]"),
    "not json at all": ("hello, not json", "queue item is not JSON"),
    "bare event": (json.dumps(make_event(event_id="bare")), "not a message envelope"),
    "unknown task": (envelope(json.dumps([[GOOD], {}, {}]), task="notices.later"), "unknown task"),
    "text/plain": (envelope("hello", content_type="text/plain"), "content type"),
    "pickle": (
        envelope(b"\x80\x04K\x01.", content_type="application/x-python-serialize"),
        "content type",
    ),
    "no task header": (envelope(json.dumps([[GOOD], {}, {}]), task=None), "no task header"),
    "two arguments": (envelope(json.dumps([[GOOD, GOOD], {}, {}])), "takes one argument"),
    "keyword argument": (envelope(json.dumps([[], {"event": GOOD}, {}])), "takes one argument"),
    "argument not an object": (envelope(json.dumps([["an event"], {}, {}])), "JSON object"),
    "send without id": (envelope(json.dumps([[], {}, {}]), task=SEND), "notice id"),
    "deep nesting": (envelope("[" * 100_000 + "]" * 100_000), "undecodable body"),
}


@pytest.mark.e2e
def test_poison_messages_are_dead_lettered_and_the_worker_carries_on(
    real_redis: Any, smtp_server: ServerThread, recorder: Recorder, start_worker: Any
) -> None:
    env = worker_env(smtp_server.url)
    worker = start_worker(smtp_server.url, concurrency=2)
    for payload, _ in CASES.values():
        real_redis.lpush("celery", payload)
    real_redis.lpush("celery", envelope(json.dumps([[GOOD], {}, {}])))
    wait_for(lambda: show("poison-good", env).get("status") == "sent", timeout=60)
    wait_for(lambda: real_redis.zcard("pdn:dead") >= len(CASES), timeout=30)
    assert worker.proc.poll() is None
    dead = [
        json.loads(line) for line in run_cli("dead", "list", "--json", env=env).stdout.splitlines()
    ]
    assert len(dead) == len(CASES)
    reasons = sorted(d["reason"] for d in dead)
    # Each case's words are in as many reasons as cases expect them (no case hides behind
    # another's dead letter).
    for words in {w for _, w in CASES.values()}:
        expected = sum(w == words for _, w in CASES.values())
        assert sum(words in r for r in reasons) == expected, (words, reasons)
    # Acknowledged: nothing waits in the queue, nothing in kombu's unacked set.
    assert real_redis.llen("celery") == 0 and real_redis.hlen("unacked") == 0
    later = next(d for d in dead if "unknown task" in d["reason"])
    assert later["task"] == "notices.later" and later["payload"] == GOOD


def _message(
    body: bytes, *, task: str | None = CHARGE_FAILED, content_type: str = "application/json"
) -> Any:
    headers = {"task": task} if task else {}
    return SimpleNamespace(body=body, headers=headers, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[[{}], {}, {}]", None),
        (b"[[{}, {}], {}, {}]", "takes one argument"),
        (b'{"a": 1}', "[args, kwargs, embed]"),
        (b"\xff\xfe", "undecodable"),
        (b"[[1], {}, {}]" + b" " * 10, None),
    ],
)
def test_poison_inspect_reads_the_body_shape(body: bytes, words: str | None) -> None:
    poison = inspect(_message(body), KNOWN)
    assert (poison is None) if words is None else (poison is not None and words in poison.reason)


def test_poison_inspect_keeps_the_unknown_task_name_and_the_event() -> None:
    poison = inspect(_message(b'[[{"event_id": "x"}], {}, {}]', task="notices.new"), KNOWN)
    assert poison is not None and poison.task == "notices.new"
    assert poison.payload == {"event_id": "x"}


def test_poison_transport_wraps_what_is_no_envelope() -> None:
    token = _reading_queue.set(True)
    try:
        wrapped = _loads("hello")
        bare = _loads(json.dumps({"event_id": "x"}))
        real = _loads(envelope("[[{}], {}, {}]"))
    finally:
        _reading_queue.reset(token)
    assert wrapped["content-type"] == POISON_TYPE and is_envelope(wrapped)
    assert bare["content-type"] == POISON_TYPE
    assert real["content-type"] == "application/json"
    # Outside a queue read (kombu's unacked records), decoding is kombu's own.
    with pytest.raises(ValueError):
        _loads("hello")


def test_poison_requeue_delivers_to_the_task_the_message_named() -> None:
    import fakeredis

    from worker.notices.deadletters import DeadLetters

    dead = DeadLetters(fakeredis.FakeRedis(decode_responses=True))
    dead_id = dead.add(GOOD, "unknown task 'notices.later'", "", "queue", task="notices.later")
    sent: list[tuple[str, Any]] = []
    outcome = dead.requeue(dead_id, lambda task, payload: sent.append((task, payload)))
    assert outcome.done and sent == [("notices.later", GOOD)]
    assert dead.get(dead_id) is None
    # An event for notices.charge_failed is checked again first, and kept when still invalid.
    bad_id = dead.add({**GOOD, "amount": 12}, "amount: must be a decimal string")
    assert not dead.requeue(bad_id, lambda task, payload: sent.append((task, payload))).done
    assert len(sent) == 1 and dead.get(bad_id) is not None
