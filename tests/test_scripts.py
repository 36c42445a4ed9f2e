"""Scripts sent together: one round trip, scripts a server lost sent again, errors by policy."""

from __future__ import annotations

import logging
from typing import Any

import fakeredis
import pytest
import redis

from worker.notices.scripts import ScriptBatch

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL = "return redis.error_reply('refused')"


def test_scripts_batch_sends_every_script_in_one_round_trip(
    real_redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    incr = real_redis.register_script(INCR)
    incr(keys=["warm"], args=[1])  # the server knows it, as after a process's first change
    sent: list[bytes] = []
    original = redis.connection.Connection.send_packed_command

    def spy(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", spy)
    batch = ScriptBatch(real_redis)
    batch.add(incr, ["a"], [2], best_effort=True, what="a")
    batch.add(incr, ["b"], [3], best_effort=False, what="b")
    batch.run()
    monkeypatch.undo()
    assert len(sent) == 1
    assert real_redis.get("a") == "2" and real_redis.get("b") == "3"


def test_scripts_batch_runs_scripts_the_server_lost() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    incr = client.register_script(INCR)
    client.script_flush()  # a restarted Redis has no scripts
    batch = ScriptBatch(client)
    batch.add(incr, ["a"], [5], best_effort=False, what="a")
    batch.run()
    assert client.get("a") == "5"


def test_scripts_batch_logs_a_lost_counter_and_raises_for_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    fail, incr = client.register_script(FAIL), client.register_script(INCR)
    batch = ScriptBatch(client)
    batch.add(fail, [], [], best_effort=True, what="hourly counters")
    batch.add(incr, ["a"], [1], best_effort=False, what="events stream")
    with caplog.at_level(logging.WARNING):
        batch.run()
    assert client.get("a") == "1" and "hourly counters not updated" in caplog.text
    batch.add(fail, [], [], best_effort=False, what="events stream")
    with pytest.raises(redis.ResponseError, match="refused"):
        batch.run()
