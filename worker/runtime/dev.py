"""``python -m worker dev``: the whole service in one process, with nothing installed.

An in-process broker and store, a Celery worker in threads, and an SMTP server that keeps
each mail as a .eml file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker.intake import producer as intake
from worker.logs import setup
from worker.notices.connection import MEMORY_URL
from worker.notices.record import notice_id_for, public
from worker.render.i18n import LANG_TAGS, negotiate
from worker.resources import resource_dir
from worker.settings import configure, dev_secret, from_env
from worker.smtp.capture import CaptureServer


def sample_events() -> list[dict[str, Any]]:
    """Every shipped sample case, in both locales."""
    return [event for event, _ in _samples()]


def _samples() -> list[tuple[dict[str, Any], str]]:
    """(event, case label) for every shipped sample case in both locales."""
    cases = json.loads((resource_dir("samples") / "cases.json").read_text(encoding="utf-8"))
    found = []
    for locale in ("zh-TW", "en"):
        for name, event in cases.items():
            # One invoice each: the two locales of a case are two sequences, two notices.
            sample = f"sample-{name}-{locale}"
            payload = {**event, "event_id": sample, "locale": locale, "invoice_id": sample}
            found.append((payload, f"{name}.{locale}"))
    return found


def case_label(payload: Any) -> str:
    """What a captured mail's name says about its event: ``card_expired.zh-TW``,
    ``invoice-disabled.en``."""
    if not isinstance(payload, dict):
        return "event"
    if payload.get("payment_method") == "invoice":
        kind = "invoice"
    else:
        kind = str(payload.get("reason") or "unknown")
    if payload.get("subscription_status") == "disabled":
        kind += "-disabled"
    locale = payload.get("locale")
    return f"{kind}.{LANG_TAGS[negotiate(locale if isinstance(locale, str) else None)]}"


def _labels(events: list[tuple[Any, str]]) -> dict[str, str]:
    """Notice id -> case label, for the events this run publishes."""
    labels = {}
    for payload, label in events:
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if isinstance(event_id, str):
            labels[notice_id_for(event_id)] = label
            labels[notice_id_for(event_id.strip())] = label
    return labels


#: Called once the batch has settled, with the embedded settings and pipeline, when the
#: service keeps running: the CLI serves the preview and ops pages on that store.
OnRunning = Callable[[Any, Any], None]


def run(
    files: list[str],
    sample: bool,
    keep_running: bool,
    capture_dir: str | None,
    wait: float,
    on_running: OnRunning | None = None,
) -> int:
    base = from_env()
    folder = Path(capture_dir or base.capture_dir).resolve()
    labels: dict[str, str] = {}
    with CaptureServer(folder, label=labels.get) as smtp:
        settings = base.with_(
            redis_url=MEMORY_URL,
            # kombu warns on every connection to a URL without a host name.
            broker_url="memory://localhost/",
            smtp_url=smtp.url,
            secret_key=base.secret_key or dev_secret(),
            retry_delays=(1.0, 2.0, 5.0),
            sweep_interval=0.5,
            log_level=base.log_level if "LOG_LEVEL" in _env() else "WARNING",
        )
        configure(settings)
        # Imported only now: the Celery app is built from the settings when its module is
        # first imported, and these must be the embedded ones.
        from celery.contrib.testing.worker import start_worker

        from worker.runtime.celery_app import app, celery_config
        from worker.runtime.wiring import get_pipeline

        setup(settings.log_level, "text")
        app.conf.update(celery_config(settings))
        labelled: list[tuple[Any, str]] = _samples() if sample else []
        for name in files:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            labelled.extend((i.payload, case_label(i.payload)) for i in intake.read_events(data))
        labels.update(_labels(labelled))
        events = [payload for payload, _ in labelled]
        if not events and not keep_running:
            print(
                "nothing to publish: give event files (or - for stdin), --sample for the "
                "shipped samples, or --keep-running to keep the embedded service up",
                file=sys.stderr,
            )
            configure(None)
            return 1
        pipeline = get_pipeline(settings)
        with start_worker(
            app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            loglevel=settings.log_level,
            shutdown_timeout=10,
        ):
            for payload in events:
                intake.publish(app, payload)
            print(f"published {len(events)} event(s); SMTP capture on {smtp.url}")
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not _settled(pipeline, events):
                time.sleep(0.2)
            print_table(pipeline)
            print(f"\ncaptured mails: {folder} ({len(smtp.handler.messages)} this run)")
            dead = pipeline.dead.count()
            if dead:
                print(f"dead letters: {dead} (invalid events; see above for their reasons)")
                for record in pipeline.dead.list():
                    print(f"  {record['id']}  {record['reason']}")
            if keep_running:
                if on_running is not None:
                    on_running(settings, pipeline)
                print("running; press Ctrl-C to stop", flush=True)
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
    configure(None)
    return 0


def _env() -> dict[str, str]:
    return dict(os.environ)


def _settled(pipeline: Any, events: list[Any]) -> bool:
    counts = pipeline.tracker.counts()
    pending = counts.get("queued", 0) + counts.get("deferred", 0)
    return bool(pending == 0 and sum(counts.values()) + pipeline.dead.count() >= len(events))


def print_table(pipeline: Any) -> None:
    rows = [public(r) for r in pipeline.tracker.records(pipeline.tracker.ids())]
    rows.sort(key=lambda r: r["created_at"] or "")
    header = f"{'notice':<20}  {'event':<32}  {'locale':<6}  {'status':<10}  to"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['id']:<20}  {row['event_id'][:32]:<32}  {row['locale'] or '':<6}  "
            f"{row['status']:<10}  {row['to']}"
        )
