"""The retry sweeper: a bootstep in every worker that hands due notices to the send task."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import bootsteps

from worker.intake.producer import enqueue_send
from worker.notices import keys
from worker.runtime.outbound import run_outbound
from worker.runtime.wiring import get_pipeline
from worker.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Sweeper rounds between two prunes of expired index entries (an hour at 5 s a round).
PRUNE_EVERY = 720


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
        self.thread = threading.Thread(
            target=run_sweeper, args=(self.stop_event, parent.app), name="sweeper", daemon=True
        )
        self.thread.start()
        settings = get_settings()
        if settings.outbound_webhook_url:
            # Its own thread: a slow receiver must never hold up the retries of notices.
            pipeline = get_pipeline(settings)
            threading.Thread(
                target=run_outbound,
                args=(self.stop_event, pipeline.outbound, pipeline.tracker, settings),
                name="outbound-webhook",
                daemon=True,
            ).start()

    def stop(self, parent: Any) -> None:
        self.stop_event.set()


def run_sweeper(stop: threading.Event, app: Any, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    pipeline = get_pipeline(settings)
    rounds = 0
    while not stop.wait(settings.sweep_interval):
        try:
            pipeline.sweep(lambda notice_id: enqueue_send(app, notice_id))
            # The heartbeat alerting watches: a store whose sweepers all stopped would
            # leave every retry and every lost worker's notice waiting forever.
            pipeline.tracker.r.set(keys.SWEEPER_BEAT, f"{time.time():.3f}")
            rounds += 1
            if rounds % PRUNE_EVERY == 0:
                pipeline.tracker.prune()
        except Exception as exc:  # Redis away: the next round tries again
            log.warning("sweeper round failed: %s", exc)
