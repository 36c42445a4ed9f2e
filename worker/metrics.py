"""Prometheus metrics of the worker and the web app."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

NOTICES = Counter("notices_total", "Notice status changes, by the status reached", ["status"])
SEND_SECONDS = Histogram(
    "notice_send_seconds",
    "Time of one send attempt (render, inline, SMTP)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SMTP_REPLIES = Counter(
    "smtp_replies_total", "SMTP outcomes by reply class and code", ["klass", "code"]
)
BOUNCES = Counter("bounces_total", "Bounce and DSN reports, by kind and reason", ["kind", "reason"])
COMPLAINTS = Counter("complaints_total", "Complaint reports (ARF) tied to a notice")
THROTTLED = Counter(
    "smtp_throttled_total", "Throttling replies (slow down), by recipient domain", ["domain"]
)
RETRIES = Counter("notice_retries_total", "Send attempts that were deferred for a retry")
DEAD_LETTERS = Counter("dead_letters_total", "Events refused as invalid and dead-lettered")
WEBHOOK_EVENTS = Counter(
    "webhook_events_total",
    "Provider webhook events, by provider, normalized event and what became of them",
    ["provider", "event", "outcome"],
)
WEBHOOK_REFUSALS = Counter(
    "webhook_refusals_total",
    "Provider webhook requests or events refused (verification, tie-back), by reason",
    ["provider", "reason"],
)
REPLAYS = Counter("notice_replays_total", "Notices put back in the queue by a replay")
OUTBOUND = Counter(
    "outbound_webhook_deliveries_total",
    "Outbound webhook POSTs, by outcome (delivered, or retried later)",
    ["outcome"],
)
#: Summed over the live pool processes in multiprocess mode (a dead process's value goes).
SENDS_IN_FLIGHT = Gauge(
    "smtp_sends_in_flight",
    "Sends handed to the sending engine and not yet recorded",
    multiprocess_mode="livesum",
)
CONNECTIONS_OPEN = Gauge(
    "smtp_connections_open", "Connections to the relay open now", multiprocess_mode="livesum"
)


class StoreCollector:
    """Numbers read from the tracking store at scrape time: notices by status, dead
    letters waiting, and whether the store answered."""

    def __init__(self, pipeline: Callable[[], Any]) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "notices_in_status", "Notices currently in each status", labels=["status"]
        )
        dead = GaugeMetricFamily("dead_letters_pending", "Dead letters waiting to be handled")
        up = GaugeMetricFamily(
            "tracking_store_up", "1 when the tracking store answered this scrape"
        )
        try:
            pipeline = self.pipeline()
            for status, count in pipeline.tracker.counts().items():
                by_status.add_metric([status], count)
            dead.add_metric([], pipeline.dead.count())
            up.add_metric([], 1)
        except Exception:  # the store is away: say so instead of failing the scrape
            up.add_metric([], 0)
        yield from (by_status, dead, up)


def worker_registry() -> CollectorRegistry:
    """The worker's registry: every pool process's series when they are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY
