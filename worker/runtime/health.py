"""Health numbers read at scrape time: backlog, oldest due notice, sweeper heartbeat, limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from worker.notices import keys
from worker.notices.limits import RelayLimits
from worker.settings import Settings

log = logging.getLogger(__name__)

#: The queue the tasks are published to (Celery's default).
QUEUE = "celery"


def broker_queue_depth(app: Any, queue: str = QUEUE) -> int:
    """Messages waiting in the broker's queue, through kombu (Redis and RabbitMQ alike:
    a passive declare reports the count and creates nothing)."""
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        try:
            declared = conn.default_channel.queue_declare(queue=queue, passive=True)
        except conn.channel_errors as exc:
            # Not found is empty: kombu's Redis transport knows a queue only while its list
            # exists, and Redis deletes an empty list; RabbitMQ has none before a worker
            # declared it.
            if getattr(exc, "code", None) == 404 or "NOT_FOUND" in str(exc):
                return 0
            raise
        return int(declared.message_count)


class HealthCollector:
    """What an alert watches: is work piling up, is anything driving retries, is a relay
    throttling us. Each number is read when Prometheus scrapes, never cached."""

    def __init__(
        self,
        client: Callable[[], Any],
        settings: Settings,
        queue_depth: Callable[[], int] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        depth = GaugeMetricFamily(
            "notice_queue_depth", "Messages waiting in the broker's queue (events and sends)"
        )
        oldest = GaugeMetricFamily(
            "notice_oldest_due_seconds",
            "How long the oldest due notice (retry or expired lease) has waited; 0: none",
        )
        beat = GaugeMetricFamily(
            "sweeper_last_round_timestamp_seconds",
            "Unix time of the last finished sweeper round of any worker",
        )
        held = GaugeMetricFamily(
            "relay_connection_slots_held",
            "Connection slots held across every worker (RELAY_MAX_CONNECTIONS)",
        )
        factor = GaugeMetricFamily(
            "domain_rate_factor",
            "A throttled domain's share of its rate (1: recovered; 0.5: halved)",
            labels=["domain"],
        )
        rate = GaugeMetricFamily(
            "domain_rate_per_second",
            "Mails per second a throttled domain is allowed now",
            labels=["domain"],
        )
        if self.queue_depth is not None:
            try:
                depth.add_metric([], self.queue_depth())
            except Exception as exc:  # the broker is away: the scrape goes on without it
                log.warning("queue depth unavailable: %s", exc.__class__.__name__)
        try:
            r = self.client()
            first = r.zrange(keys.SCHED, 0, 0, withscores=True)
            oldest.add_metric([], max(0.0, now - float(first[0][1])) if first else 0.0)
            last = r.get(keys.SWEEPER_BEAT)
            if last is not None:
                beat.add_metric([], float(last))
            limits = RelayLimits(r, self.settings)
            held.add_metric([], limits.connections())
            for state in limits.domain_states():
                factor.add_metric([state.domain], state.factor)
                if state.rate is not None:
                    rate.add_metric([state.domain], state.rate)
        except Exception as exc:  # tracking_store_up (StoreCollector) says the store is away
            log.warning("health numbers unavailable: %s", exc.__class__.__name__)
        yield from (depth, oldest, beat, held, factor, rate)
