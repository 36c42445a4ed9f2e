"""How the command line prints: JSON lines or aligned tables, and the shared accessors."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.notices.pipeline import Pipeline
from worker.runtime.wiring import get_pipeline
from worker.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


def pipeline() -> Pipeline:
    return get_pipeline(get_settings())


@dataclass(frozen=True)
class Needs:
    """What a command needs before it starts (checked by ``main``, README per command)."""

    secret: bool = False  #: SECRET_KEY: it signs or verifies what ties reports to notices
    store: bool = False  #: a tracking store that answers and keeps its data


STORE = Needs(store=True)
SIGNS = Needs(secret=True, store=True)


def read_input(name: str) -> bytes:
    """The bytes of file ``name`` (``-``: stdin, said on a terminal: nobody waits in vain).

    A file that cannot be read raises OSError naming it: ``main`` says it in one line.
    """
    if name != "-":
        return Path(name).read_bytes()
    if sys.stdin.isatty():
        print("reading from stdin (end it with Ctrl-D), or give a file", file=sys.stderr)
    return sys.stdin.buffer.read()


def emit(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    """JSON lines, or an aligned table of ``columns``."""
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        print("(none)")
        return
    widths = {
        c: max(len(c), *(len(str(r.get(c) if r.get(c) is not None else "")) for r in rows))
        for c in columns
    }
    print("  ".join(c.ljust(min(widths[c], 40)) for c in columns))
    for row in rows:
        print(
            "  ".join(
                str(row.get(c) if row.get(c) is not None else "")[:60].ljust(min(widths[c], 40))
                for c in columns
            )
        )


def celery_app() -> Any:
    """The Celery app, built on first use (it costs start-up time every other verb saves)."""
    from worker.runtime.celery_app import app

    return app
