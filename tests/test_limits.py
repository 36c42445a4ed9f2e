"""Limits shared through Redis: the relay's rate, a domain's rate, its throttle, connections."""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import pytest

from tests.support.events import make_event
from worker.notices.limits import MIN_FACTOR, RelayLimits
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.replies import is_throttle
from worker.smtp.server import ServerThread


def _drain(limits: RelayLimits, domain: str, seconds: float) -> int:
    """How many sends ``limits`` lets through for ``domain`` in ``seconds``."""
    allowed, end = 0, time.time() + seconds
    while time.time() < end:
        wait = limits.take(domain)
        if wait == 0:
            allowed += 1
        else:
            time.sleep(min(wait, 0.02))
    return allowed


@pytest.fixture
def client() -> Any:
    return fakeredis.FakeRedis(decode_responses=True)


def test_limits_relay_rate_is_shared_by_every_worker(settings: Settings, client: Any) -> None:
    config = settings.with_(relay_rate=20.0)
    # Two "workers" (two RelayLimits on one store) together stay at the relay's rate.
    one, two = RelayLimits(client, config), RelayLimits(client, config)
    start = time.time()
    allowed = 0
    while time.time() - start < 1.5:
        for limits in (one, two):
            if limits.take("example.com") == 0:
                allowed += 1
        time.sleep(0.001)
    # a bucket of 20 to start with, then 20 per second: about 50 in 1.5 s, not 100
    assert 40 <= allowed <= 55, allowed


def test_limits_domain_rate_binds_only_that_domain(settings: Settings, client: Any) -> None:
    limits = RelayLimits(client, settings.with_(domain_rates=(("slow.example", 5.0),)))
    assert limits.limits_rate
    slow = _drain(limits, "slow.example", 1.0)
    fast = _drain(limits, "fast.example", 0.2)
    assert slow <= 11 and fast > 100


def test_limits_throttle_halves_then_recovers(
    settings: Settings, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = RelayLimits(client, settings.with_(domain_rates=(("gmail.com", 40.0),)))
    assert limits.throttled("gmail.com") == 0.5
    assert limits.throttled("gmail.com") == 0.25
    for _ in range(20):
        limits.throttled("gmail.com")
    assert limits.domain_states()[0].factor == MIN_FACTOR
    assert limits.is_throttled("gmail.com") and not limits.is_throttled("outlook.com")
    # After the hold, each step raises the rate until the throttle is gone. The scripts
    # read Redis's clock; fakeredis's TIME is the process's time.time(), moved on here.
    now = [time.time()]
    monkeypatch.setattr("time.time", lambda: now[0])
    for _ in range(40):
        now[0] += 61
        limits.take("gmail.com")
    assert not limits.is_throttled("gmail.com")


def test_limits_bucket_reads_the_server_clock_not_the_callers(
    settings: Settings, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers whose clocks disagree by an hour share one bucket: the slow clock
    must not refill it (nor the fast one drain it)."""
    limits = RelayLimits(client, settings.with_(relay_rate=5.0))
    taken = sum(1 for _ in range(5) if limits.take("example.org") == 0)
    assert taken == 5 and limits.take("example.org") > 0
    real = time.time
    monkeypatch.setattr(
        "worker.notices.limits.time", type("Skewed", (), {"time": lambda: real() + 3600})
    )
    assert limits.take("example.org") > 0  # an hour "later" on this worker's clock: still empty


def test_limits_connections_are_capped_across_workers(settings: Settings, client: Any) -> None:
    limits = RelayLimits(client, settings.with_(relay_max_connections=2))
    assert limits.acquire_connection("a") and limits.acquire_connection("b")
    assert not limits.acquire_connection("c")
    assert limits.acquire_connection("a")  # a held slot is refreshed, not counted twice
    limits.release_connection("a")
    assert limits.acquire_connection("c") and limits.connections() == 2


@pytest.mark.parametrize(
    ("code", "text", "throttle"),
    [
        (421, "421 4.7.28 Our system has detected an unusual rate of unsolicited mail", True),
        (451, "451 4.7.650 The mail server has been temporarily rate limited", True),
        (421, "421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume", True),
        (452, "452 4.5.3 Too many recipients", True),
        (451, "451 4.3.0 Temporary local problem, try again later", False),
        (550, "550 5.7.1 rate limit exceeded", False),  # a 5xx is no throttle: it is refused
    ],
)
def test_limits_throttling_replies_are_recognised(code: int, text: str, throttle: bool) -> None:
    assert is_throttle(code, text) is throttle


def test_limits_throttled_send_keeps_its_attempt_and_slows_the_domain(
    settings: Settings, fake_redis: Any, recorder: Any, smtp_server: ServerThread
) -> None:
    recorder.refuse_rcpt["a@gmail.com"] = "421 4.7.28 unusual rate of unsolicited mail"
    config = settings.with_(smtp_url=smtp_server.url)
    limits = RelayLimits(fake_redis, config)
    pipeline = Pipeline(config, fake_redis, limits=limits)
    intake = pipeline.handle_event(make_event(admin_email="a@gmail.com"))
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert record["status"] == "deferred" and record["attempts"] == "0"
    assert "throttled" in pipeline.tracker.history(intake.notice_id or "")[-1]["detail"]
    assert limits.is_throttled("gmail.com")
    # Other domains are not slowed.
    assert not limits.is_throttled("example.com")
