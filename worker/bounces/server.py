"""The inbound SMTP endpoint for bounces and DSNs (``python -m worker bounces serve``).

It is the public MX of the bounce domain, so it is built for strangers: it takes mail for
that domain only (never relays), bounds what one message, one peer and all peers together
may cost (size, recipients read, messages per minute, sessions open, idle time), and
applies a report only when it carries our signed proof (worker.bounces.tieback).
"""

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
from worker.smtp.server import LenientSMTP, ServerThread

log = logging.getLogger(__name__)

TOO_MANY_SESSIONS = b"421 4.7.0 Too many connections, try again later\r\n"


class LimitedSMTP(LenientSMTP):
    """Refuses a session beyond the limits before it starts (421: try again later)."""

    #: Set by make_server: sessions open at once, in all and from one peer.
    max_sessions = 200
    max_per_peer = 20

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else "?"
        same_peer = sum(1 for s in self.sessions if getattr(s, "peer_host", None) == host)
        if len(self.sessions) >= self.max_sessions or same_peer >= self.max_per_peer:
            log.warning(
                "bounce endpoint: session from %s refused (%d open, %d from it)",
                host,
                len(self.sessions),
                same_peer,
            )
            self.refused = True
            transport.write(TOO_MANY_SESSIONS)
            transport.close()
            return
        self.refused = False
        self.peer_host = host
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if getattr(self, "refused", False):
            return  # never started: nothing of aiosmtpd's to tear down
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if getattr(self, "refused", False):
            return False
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        if getattr(self, "refused", False):
            return
        super().data_received(data)


class BounceHandler:
    """Accepts mail for the bounce domain only, and never relays anything onward.

    Every accepted message is processed; one that cannot be processed is written to the
    spool folder first, and only a message that can be neither processed nor kept gets a
    4xx, so that the sending server tries again later instead of the report being lost.
    """

    def __init__(self, processor: BounceProcessor, settings: Settings) -> None:
        self.processor = processor
        self.domain = settings.envelope_base.domain.lower()
        self.rate = settings.bounce_rate_per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def _over_rate(self, peer: str) -> bool:
        now = time.monotonic()
        window = self._seen[peer]
        while window and now - window[0] > 60:
            window.popleft()
        if not window:
            self._seen.pop(peer, None)  # forget quiet peers: the map must not grow forever
            window = self._seen[peer]
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
        if len(envelope.rcpt_tos) >= 10:
            # A bounce goes to one return path; a handful covers relays that fan out.
            return "452 4.5.3 Too many recipients"
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
                kept = self.processor.keep(data, "failed")
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
                result.matched_by or "no proof",
            )
        return "250 2.0.0 OK"


def make_server(
    processor: BounceProcessor, settings: Settings, host: str, port: int, **kwargs: Any
) -> ServerThread:
    handler = BounceHandler(processor, settings)
    limited = type(
        "LimitedSMTPForServer",
        (LimitedSMTP,),
        {
            "max_sessions": settings.bounce_max_connections,
            "max_per_peer": settings.bounce_max_connections_per_peer,
        },
    )
    return ServerThread(
        handler,
        hostname=host,
        port=port,
        smtp_class=limited,
        data_size_limit=settings.bounce_max_bytes,
        # Bounces come from any mail server; some still send 8-bit text.
        decode_data=False,
        enable_SMTPUTF8=True,
        # aiosmtpd's own idle timeout: a session silent this long is closed.
        timeout=settings.bounce_idle_timeout,
        **kwargs,
    )


def spool_dir(settings: Settings) -> Path:
    return Path(settings.capture_dir).parent / "bounces"
