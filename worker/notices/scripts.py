"""Several Lua scripts sent to Redis in one round trip, each keeping its own error policy."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.notices.connection import RedisClient

log = logging.getLogger(__name__)


@dataclass
class _Call:
    script: Any  #: a redis-py Script (``register_script``)
    keys: list[str]
    args: list[Any]
    #: A counter may be lost (logged); anything else raises as a lone call would.
    best_effort: bool
    what: str


@dataclass
class ScriptBatch:
    """What follows one status change (the hourly counters, the events stream) goes out
    together: one round trip instead of one per script.

    redis-py's own pipelined scripts ask ``SCRIPT EXISTS`` before each pipeline, which is
    the round trip this saves; here each script goes as EVALSHA and only a server that
    lost its scripts (a restart, ``SCRIPT FLUSH``) sees them again one by one.
    """

    client: RedisClient
    calls: list[_Call] = field(default_factory=list)

    def add(
        self, script: Any, keys: list[str], args: list[Any], *, best_effort: bool, what: str
    ) -> None:
        self.calls.append(_Call(script, keys, args, best_effort, what))

    def run(self) -> None:
        if not self.calls:
            return
        calls, self.calls = self.calls, []
        pipe = self.client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        try:
            results = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            self._failed(calls, exc)
            return
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, redis.exceptions.NoScriptError):
                try:
                    call.script(keys=call.keys, args=call.args)  # loads it, then runs it
                except redis.RedisError as exc:
                    self._failed([call], exc)
            elif isinstance(result, Exception):
                self._failed([call], result)

    @staticmethod
    def _failed(calls: list[_Call], exc: Exception) -> None:
        for call in calls:
            if not call.best_effort:
                raise exc
        for call in calls:
            log.warning("%s not updated: %s", call.what, exc.__class__.__name__)
