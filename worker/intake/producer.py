"""The producer side: reading event files, the task names, and putting work on the queue."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from worker.errors import InvalidEvent
from worker.intake.events import Event, parse_event
from worker.intake.kinds import EventType, event_type
from worker.intake.lifecycle import LifecycleEvent, parse_lifecycle

#: The Celery task names: public contracts (producers send to them by name).
CHARGE_FAILED = EventType.CHARGE_FAILED.task
PAYMENT_SUCCEEDED = EventType.PAYMENT_SUCCEEDED.task
INVOICE_VOIDED = EventType.INVOICE_VOIDED.task
SUBSCRIPTION_CANCELLED = EventType.SUBSCRIPTION_CANCELLED.task
SUBSCRIPTION_DISABLED = EventType.SUBSCRIPTION_DISABLED.task
#: Every task that takes one event, by the event type it takes.
EVENT_TASKS = {t.task: t for t in EventType}
SEND = "notices.send"
#: Kept for producers that imported the old name.
TASK_NAME = CHARGE_FAILED

_RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}


@dataclass(frozen=True)
class Item:
    index: int  #: 0-based position in the input (array index or line number - 1)
    payload: Any
    error: str | None = None


def read_events(data: str | bytes) -> Iterator[Item]:
    """A JSON object, a JSON array of objects, or JSON lines (one object per line).

    Nothing in the input stops the reading: a line that is not UTF-8, not JSON, nested
    too deeply or holding a number too long to convert is an item with its reason.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        yield from _read_lines(data.splitlines() if isinstance(data, bytes) else [])
        return
    stripped = text.strip()
    if not stripped:
        return
    try:
        document = json.loads(stripped)
    except (ValueError, RecursionError):
        yield from _read_lines(text.splitlines())
        return
    items = document if isinstance(document, list) else [document]
    for index, payload in enumerate(items):
        yield Item(index, payload)


def _read_lines(lines: Sequence[str | bytes]) -> Iterator[Item]:
    for index, raw in enumerate(lines):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            yield Item(index, None, f"line {index + 1} is not UTF-8 text (byte {exc.start})")
            continue
        if not line.strip():
            continue
        try:
            yield Item(index, json.loads(line))
        except json.JSONDecodeError as exc:
            yield Item(index, line, f"line {index + 1} is not valid JSON ({exc.msg})")
        except RecursionError:
            yield Item(index, None, f"line {index + 1} is not valid JSON (nested too deeply)")
        except ValueError as exc:  # a number too long to convert, for one
            yield Item(index, None, f"line {index + 1} is not valid JSON ({_first(exc)})")


def _first(exc: Exception) -> str:
    """The first clause of an error message (Python's int-size one runs on)."""
    return str(exc).split(":")[0].split(";")[0].strip()


def validate(item: Item) -> Event | LifecycleEvent:
    """The event ``item`` holds, of the type it names, or InvalidEvent with every reason
    it is not one."""
    if item.error:
        raise InvalidEvent("", item.error)
    kind = event_type(item.payload)
    if kind is EventType.CHARGE_FAILED:
        return parse_event(item.payload)
    return parse_lifecycle(item.payload, kind)


def check(item: Item) -> str | None:
    """The reason ``item`` is invalid (all of them, "; " between), or None."""
    try:
        validate(item)
    except InvalidEvent as exc:
        return exc.reason
    return None


def task_for(payload: Any) -> str:
    """The task an event goes to: by its ``type`` (``charge_failed`` when absent)."""
    try:
        return event_type(payload).task
    except InvalidEvent:
        return CHARGE_FAILED  # its task dead-letters it with the reason


def publish(app: Any, payload: Any) -> None:
    """Put one event on the queue for its type's task; raises if the broker cannot be
    reached (after retries).

    ``app`` is anything with Celery's ``send_task`` (the producer needs no worker code).
    """
    app.send_task(task_for(payload), args=[payload], retry=True, retry_policy=_RETRY_POLICY)


def publish_to(app: Any, task: str, payload: Any) -> None:
    """Put ``payload`` on the queue for the task named ``task`` (a dead letter's requeue)."""
    app.send_task(task, args=[payload], retry=True, retry_policy=_RETRY_POLICY)


def enqueue_send(app: Any, notice_id: str, force: bool = False) -> None:
    """Hand one notice to a worker for a send attempt (a retry, a replay or a re-drive)."""
    app.send_task(SEND, args=[notice_id, force] if force else [notice_id])
