"""The Celery app: at-least-once settings for Redis, and the sweeper that drives retries."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, bootsteps, signals

from worker.errors import ConfigurationError, StoreUnavailable
from worker.logs import setup
from worker.settings import Settings, get_settings

log = logging.getLogger(__name__)


def celery_config(settings: Settings) -> dict[str, Any]:
    vt = settings.visibility_timeout
    return {
        "broker_url": settings.effective_broker_url,
        # At least once: a task is acknowledged only after it ran, a pool process killed
        # mid-task gives its message back (acks_late alone would lose it), and each
        # process reserves one message at a time so a crash strands at most one.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        # Celery reads the visibility timeout in three places; one left at its default
        # (1 hour) would re-run long tasks early or late.
        "broker_transport_options": {"visibility_timeout": vt},
        "result_backend_transport_options": {"visibility_timeout": vt},
        "visibility_timeout": vt,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        # Our consumer dead-letters messages it cannot run instead of dropping them, and
        # our Redis transport hands on queue items it cannot read instead of dying of them.
        "worker_consumer": "worker.runtime.consumer:Consumer",
        **_transport(settings),
    }


def _transport(settings: Settings) -> dict[str, Any]:
    """Our guarded Redis transport for a Redis broker, plain or through Sentinel; kombu's
    own for RabbitMQ, which acknowledges and redelivers by itself."""
    scheme = urlsplit(settings.effective_broker_url).scheme
    if scheme in ("redis", "rediss"):
        return {"broker_transport": "worker.runtime.transport:Transport"}
    if scheme == "sentinel":
        vt = settings.visibility_timeout
        return {
            "broker_transport": "worker.runtime.transport:SentinelTransport",
            "broker_transport_options": {
                "visibility_timeout": vt,
                "master_name": settings.redis_sentinel_master,
            },
        }
    return {}


def make_app(settings: Settings) -> Celery:
    # Imported here, after prepare_metrics(): the sweeper reaches the pipeline, whose
    # modules create metrics, and prometheus_client picks its multiprocess mode from the
    # environment when it is first imported.
    from worker.runtime.sweeper import SweeperStep

    celery_app = Celery("worker", include=["worker.runtime.tasks"])
    celery_app.conf.update(celery_config(settings))
    celery_app.steps["worker"].add(SweeperStep)
    celery_app.steps["worker"].add(MetricsStep)
    return celery_app


def prepare_metrics(settings: Settings) -> None:
    """With METRICS_PORT, every pool process writes its series to a shared folder that
    the main process serves (prometheus_client's multiprocess mode). The folder must be
    known before any metric is created, so this runs before the tasks are imported."""
    if settings.metrics_port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pdn-metrics-")


class MetricsStep(bootsteps.StartStopStep):
    """Serves the worker's Prometheus metrics on METRICS_HOST:METRICS_PORT."""

    def start(self, parent: Any) -> None:
        settings = get_settings()
        if settings.metrics_port:
            serve_metrics(settings, parent.app)
            log.info(
                "metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port
            )


def serve_metrics(settings: Settings, celery_app: Celery | None = None) -> None:
    """Expose the worker's series, plus the store's and the broker's numbers read at
    scrape time."""
    # After prepare_metrics() (see make_app).
    from prometheus_client import start_http_server

    from worker.metrics import StoreCollector, worker_registry
    from worker.runtime.health import HealthCollector, broker_queue_depth
    from worker.runtime.wiring import get_pipeline

    registry = worker_registry()
    registry.register(StoreCollector(lambda: get_pipeline(settings)))
    depth = (lambda: broker_queue_depth(celery_app)) if celery_app is not None else None
    registry.register(HealthCollector(lambda: get_pipeline(settings).tracker.r, settings, depth))
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)


def drain_bound(settings: Settings) -> float:
    """How long a stopping process lets its sends in flight finish: what is left after it
    comes back through the lease."""
    return min(settings.lease_seconds / 3, 30.0)


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _drain_sends(**_: Any) -> None:
    # After prepare_metrics() (see make_app).
    from worker.smtp.engine import drain_all

    drain_all(drain_bound(get_settings()))


@signals.worker_process_shutdown.connect
def _process_gone(pid: int | None = None, **_: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # After prepare_metrics() (see make_app).
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    settings = get_settings()
    setup(settings.log_level, settings.log_format, secrets=settings.secret_values())


@signals.worker_init.connect
def _preflight(**_: Any) -> None:
    """The worker checks what it needs before it takes anything from the queue: a wrong
    setting stops it with one line (exit 2), not days of deferred notices."""
    # After the app is built (see make_app): the checks reach the store's modules.
    from worker.runtime.preflight import check_store, require

    settings = get_settings()
    try:
        require(settings, secret=True, relay=True)
        for warning in check_store(settings):
            log.warning("%s (allowed by ALLOW_VOLATILE_REDIS)", warning)
    except ConfigurationError as exc:
        _refuse(f"configuration error: {exc}", 2)
    except StoreUnavailable as exc:
        _refuse(f"error: {exc}", 3)


def _refuse(line: str, code: int) -> None:
    print(line, file=sys.stderr, flush=True)
    # os._exit: Celery turns SystemExit from a signal handler into a traceback and goes on.
    os._exit(code)


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        _refuse(f"configuration error: {exc}", 2)
        raise  # unreachable: _refuse exits


prepare_metrics(_settings_or_exit())
app = make_app(get_settings())
