"""The web app: notice template previews and the ops pages (``python -m worker web``)."""

from __future__ import annotations

from worker.web.app import create_app

__all__ = ["create_app"]
