"""The inbound SMTP endpoint for bounces and DSNs (``python -m worker bounces serve``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from worker.bounces.ingest import BounceProcessor
from worker.intake.addresses import mask
from worker.settings import Settings
from worker.smtp.server import ServerThread

log = logging.getLogger(__name__)


class BounceHandler:
    """Accepts mail for the bounce domain only, and never relays anything onward.

    Every accepted message is processed; one that cannot be processed is written to the
    spool folder first, and only a message that can be neither processed nor kept gets a
    4xx, so that the sending server tries again later instead of the report being lost.
    """

    def __init__(
        self, processor: BounceProcessor, settings: Settings, rate_per_minute: int = 600
    ) -> None:
        self.processor = processor
        self.domain = settings.envelope_base.domain.lower()
        self.rate = rate_per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def _over_rate(self, peer: str) -> bool:
        now = time.monotonic()
        window = self._seen[peer]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.rate:
            return True
        window.append(now)
        return False

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        peer = str(session.peer[0]) if session.peer else "?"
        if self._over_rate(peer):
            return "421 4.7.0 Too many messages from your address, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain != self.domain:
            # Not ours: refusing here is what keeps this endpoint from ever being a relay.
            return "550 5.7.1 Relaying denied: this server only takes bounces"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        rcpts = list(envelope.rcpt_tos)
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                None, self.processor.process, data, rcpts, "smtp"
            )
        except Exception:
            log.exception("bounce processing failed; keeping the message")
            try:
                kept = self.processor.keep(data, "failed") if self.processor.spool_dir else None
            except OSError:
                kept = None
            if kept is None:
                return "451 4.3.0 Could not process the message now, try again later"
            return "250 2.0.0 Kept for inspection"
        for result in results:
            log.info(
                "bounce for %s: %s (%s)",
                mask(result.report.recipient),
                result.effect,
                result.matched_by or "unmatched",
            )
        return "250 2.0.0 OK"


def make_server(
    processor: BounceProcessor, settings: Settings, host: str, port: int, **kwargs: Any
) -> ServerThread:
    handler = BounceHandler(processor, settings)
    return ServerThread(
        handler,
        hostname=host,
        port=port,
        data_size_limit=settings.bounce_max_bytes,
        # Bounces come from any mail server; some still send 8-bit text.
        decode_data=False,
        enable_SMTPUTF8=True,
        **kwargs,
    )


def spool_dir(settings: Settings) -> Path:
    return Path(settings.capture_dir).parent / "bounces"
