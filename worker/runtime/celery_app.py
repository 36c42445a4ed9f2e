"""The Celery app: at-least-once settings for Redis, and the sweeper that drives retries."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from typing import Any

from celery import Celery, bootsteps, signals

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
        # Our consumer dead-letters messages it cannot decode instead of dropping them.
        "worker_consumer": "worker.runtime.consumer:Consumer",
    }


def make_app(settings: Settings) -> Celery:
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
            from worker.metrics import serve

            serve(settings.metrics_host, settings.metrics_port)
            log.info("metrics on http://%s:%d/metrics", settings.metrics_host,
                     settings.metrics_port)


@signals.worker_process_shutdown.connect
def _process_gone(pid: int | None = None, **_: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


class SweeperStep(bootsteps.StartStopStep):
    """Runs the retry sweeper in every worker's main process.

    Retry schedules (minutes to a day between attempts) live in a Redis sorted set, not in
    Celery countdowns: a countdown longer than the visibility timeout makes Redis hand the
    task out again and again. The sweeper also re-drives a notice whose worker died.
    """

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        self.stop_event.clear()
        self.thread = threading.Thread(target=run_sweeper, args=(self.stop_event,),
                                       name="sweeper", daemon=True)
        self.thread.start()

    def stop(self, parent: Any) -> None:
        self.stop_event.set()


def run_sweeper(stop: threading.Event, settings: Settings | None = None) -> None:
    from worker.notices.pipeline import get_pipeline
    from worker.runtime.tasks import send

    settings = settings or get_settings()
    pipeline = get_pipeline(settings)
    rounds = 0
    while not stop.wait(settings.sweep_interval):
        try:
            pipeline.sweep(lambda notice_id: send.apply_async((notice_id,)))
            rounds += 1
            if rounds % 720 == 0:
                pipeline.tracker.prune()
        except Exception as exc:  # Redis away: the next round tries again
            log.warning("sweeper round failed: %s", exc)


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    from worker.logs import setup

    settings = get_settings()
    setup(settings.log_level, settings.log_format)


prepare_metrics(get_settings())
app = make_app(get_settings())
