"""Test-send: one previewed mail to an address of the operator's choice, through the relay."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from worker.errors import ConfigurationError, PermanentError, TransientError
from worker.intake.addresses import mask
from worker.settings import Settings
from worker.smtp.client import Transport

log = logging.getLogger(__name__)

#: Test-sends per session per minute: enough to try a fix, too few to spam anyone.
SENDS_PER_MINUTE = 5


class RateLimit:
    """At most ``limit`` events per ``window`` seconds per key (in this process)."""

    def __init__(self, limit: int = SENDS_PER_MINUTE, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for ``key``; False (and nothing counted) once it is over the limit."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= moment - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return False
            seen.append(moment)
            return True


def send_test_mail(settings: Settings, message: bytes, address: str, what: str) -> tuple[bool, str]:
    """Send ``message`` to ``address`` (normalized) from MAIL_FROM; (sent, what to say).

    The envelope sender is MAIL_FROM, not a signed return path: a bounce of a test-send
    must never be tied back to a real notice.
    """
    masked = mask(address)
    transport = Transport(settings)
    try:
        accepted = transport.send(message, settings.mail_from.addr_spec, address)
    except (TransientError, PermanentError, ConfigurationError) as exc:
        log.warning("test-send of %s to %s failed: %s", what, masked, exc)
        return False, f"the relay did not take the test-send to {masked}: {exc}"
    finally:
        transport.close()
    log.info("test-send of %s to %s: %s", what, masked, accepted.code)
    return True, f"sent {what} to {masked} (relay: {accepted.code} {accepted.message})"
