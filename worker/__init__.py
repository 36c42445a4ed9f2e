"""Email notification worker for past-due payments.

``celery -A worker worker`` finds the Celery app here; it is built on first access, so that
importing a module of this package (events, render...) does not configure Celery.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from worker.runtime.celery_app import app

        return app
    raise AttributeError(name)
