"""The one place that builds a Pipeline: one per process and settings, never across a fork."""

from __future__ import annotations

import os
import threading

from worker.notices.connection import get_redis
from worker.notices.limits import RelayLimits
from worker.notices.pipeline import Pipeline
from worker.render.renderer import Renderer
from worker.settings import Settings, get_settings
from worker.smtp.engine import get_engine
from worker.smtp.slots import ConnectionSlots

_lock = threading.Lock()
_pipelines: dict[tuple[int, int, bool], Pipeline] = {}


def get_pipeline(settings: Settings | None = None, *, engine: bool = False) -> Pipeline:
    """The process's pipeline for ``settings`` (default: the process settings).

    ``engine``: sends go through the process's sending engine (the worker's tasks: a task
    hands its mail over and returns, so sends in flight are not bounded by the pool's
    processes); without it a send is made in the caller's thread (commands, tests).
    """
    settings = settings or get_settings()
    key = (os.getpid(), id(settings), engine)
    with _lock:
        pipeline = _pipelines.get(key)
        if pipeline is None:
            limits = RelayLimits(get_redis(settings), settings)
            sender = get_engine(settings, limits) if engine else None
            if sender is not None and settings.relay_max_connections:
                sender.transport.shared_slots = ConnectionSlots(limits)
            pipeline = _pipelines[key] = Pipeline(settings, engine=sender, limits=limits)
        return pipeline


def build_pipeline(settings: Settings, renderer: Renderer | None = None) -> Pipeline:
    """A pipeline of its own (the web app shares its renderer with the previews)."""
    return Pipeline(settings, renderer=renderer)
