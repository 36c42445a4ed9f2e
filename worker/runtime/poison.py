"""Which queue messages a worker cannot run, and why: checked before Celery touches them.

Anything can be pushed onto the queue: bytes that are not JSON, JSON that is not a Celery
message, a body that is not Celery's ``[args, kwargs, embed]``, a content type we do not
accept, a task this worker does not know, the wrong arguments. Celery drops most of these
with a log line, and some (a body that does not unpack) make the worker exit on every
restart. Each one is found here, so that the consumer keeps it as a dead letter with its
reason and raw bytes, acknowledges it and carries on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any, Final

from worker.intake.producer import EVENT_TASKS, SEND
from worker.runtime.transport import POISON_REASON, POISON_TYPE

JSON_TYPES: Final = frozenset({"application/json"})


@dataclass(frozen=True)
class Poison:
    """A message the worker will not run: kept as a dead letter, then acknowledged."""

    reason: str
    #: What the dead letter keeps: the event when the message carried one, else the raw body.
    payload: Any
    task: str | None = None  #: the task it named (kept, so that a requeue can deliver it)


def _arity_event(task: str) -> Callable[[list[Any], dict[str, Any]], str | None]:
    def rule(args: list[Any], kwargs: dict[str, Any]) -> str | None:
        if len(args) != 1 or kwargs:
            return (
                f"{task} takes one argument, the event; this message has "
                f"{len(args)} positional and {len(kwargs)} keyword argument(s)"
            )
        return None

    return rule


def _arity_send(args: list[Any], kwargs: dict[str, Any]) -> str | None:
    if not 1 <= len(args) <= 2 or set(kwargs) - {"force"}:
        return f"{SEND} takes a notice id and an optional force flag"
    if not isinstance(args[0], str) or (len(args) == 2 and not isinstance(args[1], bool)):
        return f"{SEND} takes a notice id (a string) and a force flag (true or false)"
    return None


#: Our tasks' argument rules (Celery would only find out in the pool, and drop the message).
ARITY: Final[dict[str, Callable[[list[Any], dict[str, Any]], str | None]]] = {
    **{task: _arity_event(task) for task in EVENT_TASKS},
    SEND: _arity_send,
}


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else repr(body)


def inspect(message: Any, known_tasks: Container[str]) -> Poison | None:
    """Why ``message`` (a kombu Message) cannot be run, or None when it can."""
    headers = message.headers if isinstance(message.headers, dict) else None
    raw = message.body
    if message.content_type == POISON_TYPE:
        reason = (headers or {}).get(POISON_REASON) or "unreadable queue item"
        return Poison(str(reason), _text(raw))
    task = headers.get("task") if headers else None
    if not isinstance(task, str) or not task:
        return Poison("not a Celery task message (no task header)", _text(raw))
    if message.content_type not in JSON_TYPES:
        return Poison(
            f"content type {str(message.content_type)[:60]!r} refused: only JSON "
            "messages are accepted",
            _text(raw),
            task,
        )
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested arrays
        return Poison(f"undecodable body: not JSON ({exc.__class__.__name__})", _text(raw), task)
    if not (
        isinstance(body, list)
        and len(body) == 3
        and isinstance(body[0], list)
        and isinstance(body[1], dict)
        and isinstance(body[2], (dict, type(None)))
    ):
        return Poison("the body is not a Celery [args, kwargs, embed] list", _text(raw), task)
    args, kwargs = body[0], body[1]
    payload = args[0] if len(args) == 1 and not kwargs else _text(raw)
    if task not in known_tasks:
        return Poison(
            f"unknown task {task[:80]!r}: this worker does not run it (upgrade every "
            "worker, then requeue the dead letter)",
            payload,
            task,
        )
    rule = ARITY.get(task)
    problem = rule(args, kwargs) if rule else None
    return Poison(problem, payload, task) if problem else None
