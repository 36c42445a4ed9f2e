"""Health numbers: oldest due notice, sweeper heartbeat, throttled domains."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from worker.notices import keys
from worker.notices.limits import RelayLimits
from worker.runtime.health import HealthCollector
from worker.settings import Settings


def scrape(collector: HealthCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def has(body: str, name: str) -> bool:
    """Whether the scrape carries a sample of ``name`` (not only its HELP and TYPE)."""
    return any(ln.startswith(name + " ") for ln in body.splitlines())


def value(body: str, name: str) -> float:
    line = next(ln for ln in body.splitlines() if ln.startswith(name + " "))
    return float(line.split()[1])


def test_health_reports_the_oldest_due_notice_and_the_heartbeat(
    fake_redis: Any, settings: Settings
) -> None:
    now = time.time()
    fake_redis.zadd(keys.SCHED, {"a": now - 120, "b": now + 60})
    fake_redis.set(keys.SWEEPER_BEAT, f"{now - 5:.3f}")
    body = scrape(HealthCollector(lambda: fake_redis, settings, lambda: 7))
    assert 119 <= value(body, "notice_oldest_due_seconds") < 130
    assert value(body, "sweeper_last_round_timestamp_seconds") == round(now - 5, 3)
    assert value(body, "notice_queue_depth") == 7


def test_health_nothing_due_is_zero_and_a_silent_sweeper_has_no_beat(
    fake_redis: Any, settings: Settings
) -> None:
    fake_redis.zadd(keys.SCHED, {"later": time.time() + 600})
    body = scrape(HealthCollector(lambda: fake_redis, settings))
    assert value(body, "notice_oldest_due_seconds") == 0
    assert not has(body, "sweeper_last_round_timestamp_seconds")
    assert not has(body, "notice_queue_depth")


def test_health_shows_a_throttled_domain(fake_redis: Any, settings: Settings) -> None:
    settings = settings.with_(relay_rate=40.0)
    RelayLimits(fake_redis, settings).throttled("gmail.com")
    body = scrape(HealthCollector(lambda: fake_redis, settings))
    assert 'domain_rate_factor{domain="gmail.com"} 0.5' in body
    assert 'domain_rate_per_second{domain="gmail.com"} 20.0' in body


def test_health_a_broken_broker_does_not_fail_the_scrape(
    fake_redis: Any, settings: Settings
) -> None:
    def broken() -> int:
        raise ConnectionError("broker away")

    body = scrape(HealthCollector(lambda: fake_redis, settings, broken))
    assert not has(body, "notice_queue_depth") and has(body, "notice_oldest_due_seconds")
