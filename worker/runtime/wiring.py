"""The one place that builds a Pipeline: one per process and settings, never across a fork."""

from __future__ import annotations

import os
import threading

from worker.notices.pipeline import Pipeline
from worker.render.renderer import Renderer
from worker.settings import Settings, get_settings

_lock = threading.Lock()
_pipelines: dict[tuple[int, int], Pipeline] = {}


def get_pipeline(settings: Settings | None = None) -> Pipeline:
    """The process's pipeline for ``settings`` (default: the process settings)."""
    settings = settings or get_settings()
    key = (os.getpid(), id(settings))
    with _lock:
        pipeline = _pipelines.get(key)
        if pipeline is None:
            pipeline = _pipelines[key] = Pipeline(settings)
        return pipeline


def build_pipeline(settings: Settings, renderer: Renderer | None = None) -> Pipeline:
    """A pipeline of its own (the web app shares its renderer with the previews)."""
    return Pipeline(settings, renderer=renderer)
