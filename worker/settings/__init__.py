"""The only reader of the environment: one frozen settings object, every variable in a table.

``from_env`` (worker.settings.table) parses every variable when a process starts; the
process keeps the result (``get_settings``) unless the dev mode or a test configures its
own (``configure``).
"""

from __future__ import annotations

import functools
import secrets

from worker.settings.model import DEFAULT_RETRY_DELAYS, Brand, Settings
from worker.settings.table import VARS, Var, from_env

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "VARS",
    "Brand",
    "Settings",
    "Var",
    "configure",
    "dev_secret",
    "from_env",
    "get_settings",
]

_override: Settings | None = None


@functools.lru_cache(maxsize=1)
def _from_process_env() -> Settings:
    return from_env()


def get_settings() -> Settings:
    """The process-wide settings: read from the environment on first use, unless the
    embedded dev mode or a test put its own in place with ``configure``."""
    return _override if _override is not None else _from_process_env()


def configure(settings: Settings | None) -> None:
    """Use ``settings`` for this process from now on (None: back to the environment)."""
    global _override
    _override = settings
    _from_process_env.cache_clear()


def dev_secret() -> str:
    """A throwaway signing key for the embedded dev mode."""
    return secrets.token_hex(32)
