"""The spool folder: inbound messages kept for an operator to read, pruned after a while."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Pruning walks the folder at most this often (seconds).
PRUNE_EVERY = 3600.0


class Spool:
    """Writes one file per kept message and deletes files older than ``retention_days``."""

    def __init__(self, folder: Path, retention_days: int) -> None:
        self.folder = folder
        self.retention = retention_days * 86400.0
        self._pruned = 0.0

    def keep(self, data: bytes, why: str) -> Path:
        """Write ``data`` (one whole message) and return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = self.folder / f"{stamp}-{why}-{secrets.token_hex(4)}.eml"
        path.write_bytes(data)
        if time.monotonic() - self._pruned > PRUNE_EVERY:
            self.prune()
        return path

    def prune(self, now: float | None = None) -> int:
        """Delete kept messages past their retention; returns how many."""
        self._pruned = time.monotonic()
        cutoff = (time.time() if now is None else now) - self.retention
        removed = 0
        if not self.folder.is_dir():
            return 0
        for path in self.folder.glob("*.eml"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:  # gone already, or not ours to delete: leave it
                continue
        if removed:
            log.info("spool: %d kept message(s) past retention deleted", removed)
        return removed
