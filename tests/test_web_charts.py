"""Ops charts from the store's per-hour counters, with a real Redis."""

from __future__ import annotations

import json
import re
import time

import fakeredis
import redis

from tests.support.events import make_event
from tests.test_web import Recorder, build_app
from worker.notices import keys
from worker.notices.pipeline import Pipeline
from worker.notices.record import iso
from worker.notices.stats import HourlyStats
from worker.notices.status import Status
from worker.settings import Settings


def test_hourly_stats_count_by_hour_with_retention(fake_redis: fakeredis.FakeRedis) -> None:
    stats = HourlyStats(fake_redis, retention_days=2)
    bounce = json.dumps({"kind": "hard", "reason": "user_unknown"})
    stats.count("sent", now=7200.0)
    stats.count("bounced", bounce, now=7300.0)
    stats.count("sent", now=10800.0)
    assert fake_redis.hgetall(keys.stats_hour(2)) == {
        "status:sent": "1",
        "status:bounced": "1",
        "bounce:hard:user_unknown": "1",
    }
    assert 0 < fake_redis.ttl(keys.stats_hour(2)) <= 2 * 86400
    assert stats.hours(3, now=10900.0) == [
        (1, {}),
        (2, {"status:sent": 1, "status:bounced": 1, "bounce:hard:user_unknown": 1}),
        (3, {"status:sent": 1}),
    ]


def test_charts_page_draws_counters_from_real_redis(
    settings: Settings, real_redis: redis.Redis
) -> None:
    pipeline = Pipeline(settings, real_redis)
    ids = [pipeline.accept(make_event(event_id=f"evt-chart-{n}")).notice_id or "" for n in range(3)]
    pipeline.tracker.transition(ids[0], Status.SENT, "accepted: 250")
    pipeline.tracker.transition(
        ids[1],
        Status.BOUNCED,
        "550 5.1.1",
        fields={"bounce": json.dumps({"kind": "hard", "reason": "user_unknown"})},
    )
    client = build_app(settings, pipeline, Recorder()).test_client()
    page = client.get("/charts").get_data(as_text=True)
    assert '<svg class="chart"' in page
    assert 'data-series="queued"' in page and "queued (3)" in page
    assert 'data-series="sent"' in page and 'data-series="bounced"' in page
    assert 'data-bar="hard · user_unknown"' in page
    assert 'data-series="failed"' not in page  # nothing failed: no line for it
    assert 'href="/charts"' in client.get("/notices").get_data(as_text=True)


def test_charts_page_without_data_says_so(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    client = build_app(settings, Pipeline(settings, fake_redis), Recorder()).test_client()
    page = client.get("/charts?hours=oops").get_data(as_text=True)
    assert "No status changes in the last 48 hours." in page and "<svg" not in page


def test_charts_page_draws_latency_percentiles_and_domains_from_real_redis(
    settings: Settings, real_redis: redis.Redis
) -> None:
    pipeline = Pipeline(settings, real_redis)
    tracker = pipeline.tracker
    waits = {"fast-1": 0, "fast-2": 0, "slow": 20 * 60}  # queued that long before sent
    for name, wait in waits.items():
        notice = pipeline.accept(
            make_event(event_id=f"evt-lat-{name}", admin_email=f"{name}.person@Mail.Example.org")
        ).notice_id
        assert notice
        real_redis.hset(keys.notice(notice), "created_at", iso(time.time() - wait))
        tracker.transition(notice, Status.SENT, "250")
        if name == "slow":
            tracker.transition(notice, Status.DELIVERED, "DSN 2.0.0")
    other = pipeline.accept(make_event(event_id="evt-lat-x", admin_email="z@other.example"))
    tracker.transition(other.notice_id or "", Status.FAILED, "550 5.7.1")
    client = build_app(settings, pipeline, Recorder()).test_client()
    page = client.get("/charts").get_data(as_text=True)
    # Three sent: two within 1 s, one within 1 h; p50 is the 1 s bucket, p90 and p99 the 1 h.
    sent = re.search(r'<tr data-latency="sent">(.*?)</tr>', page, re.S)
    assert sent, page
    assert 'data-percentile="p50">≤ 1 s</td>' in sent.group(1)
    assert 'data-percentile="p90">≤ 1 h</td>' in sent.group(1)
    assert 'data-percentile="p99">≤ 1 h</td>' in sent.group(1)
    assert 'data-label="notices">3</td>' in sent.group(1)
    delivered = re.search(r'<tr data-latency="delivered">(.*?)</tr>', page, re.S)
    assert delivered and 'data-percentile="p50">≤ 1 h</td>' in delivered.group(1)
    assert 'data-percentile="sent-p99"' in page and 'data-percentile="delivered-p50"' in page
    row = re.search(r'<tr data-domain="mail.example.org">(.*?)</tr>', page, re.S)
    assert row and 'data-status="sent">3</td>' in row.group(1)
    assert 'data-status="delivered">1</td>' in row.group(1)
    assert 'data-domain="other.example" data-status="failed"' in page
    assert "person" not in page and "z@" not in page  # no local part anywhere


def test_charts_page_without_sends_says_so_for_latency_and_domains(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    pipeline = Pipeline(settings, fake_redis)
    pipeline.accept(make_event())
    page = build_app(settings, pipeline, Recorder()).test_client().get("/charts?hours=24")
    text = page.get_data(as_text=True)
    assert "No notice sent or delivered in the last 24 hours." in text
    assert "No outcomes in the last 24 hours." in text and 'id="domain-table"' not in text
