"""aiosmtpd, lenient where real mail servers need it: ESMTP parameters accepted, DSN offered."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from worker.net import free_port

log = logging.getLogger(__name__)

#: RFC 5321's 512-octet command line plus the 500 octets RFC 3461 adds for DSN parameters.
DSN_COMMAND_LIMIT = 1012
#: Parameters aiosmtpd itself understands; it checks them as usual.
_NATIVE = frozenset({"BODY", "SMTPUTF8", "SIZE"})


class LenientSMTP(SMTP):
    """Accepts the ESMTP parameters that relays send with bounces and DSNs.

    Stock aiosmtpd answers 555 to any MAIL or RCPT parameter it does not implement, but a
    relay forwarding a bounce sends ENVID, RET, NOTIFY and ORCPT (RFC 3461), AUTH= and
    more: refusing them would refuse the bounce. They stay in envelope.mail_options /
    rcpt_options for the handler to read.
    """

    def __init__(
        self,
        handler: Any,
        *,
        advertise_dsn: bool = False,
        sessions: set[LenientSMTP] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.advertise_dsn = advertise_dsn
        #: The server's open sessions, so that stopping it can close them (see ServerThread).
        self.sessions = sessions if sessions is not None else set()
        # RFC 3461 §4: a server offering DSN must take command lines 500 octets longer than
        # RFC 5321's 512 (ORCPT repeats the address). aiosmtpd answers "500 Command line too
        # long" at 512, refusing a DSN-carrying RCPT for a long, valid address.
        self.command_size_limits = collections.defaultdict(lambda: DSN_COMMAND_LIMIT)

    def connection_made(self, transport: Any) -> None:
        self.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.sessions.discard(self)
        super().connection_lost(error)

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        parsed = super()._getparams(params)
        if parsed is None:
            return None
        return {k: v for k, v in parsed.items() if k in _NATIVE}

    async def push(self, status: Any) -> None:
        # Offer DSN (RFC 3461) in the EHLO reply, just before its last line.
        if self.advertise_dsn and status == "250 HELP":
            await super().push("250-DSN")
        await super().push(status)


class ServerThread(Controller):
    """An aiosmtpd server in a thread, built on LenientSMTP."""

    def __init__(
        self,
        handler: Any,
        hostname: str = "127.0.0.1",
        port: int = 0,
        advertise_dsn: bool = False,
        smtp_class: type[LenientSMTP] | None = None,
        **smtp_kwargs: Any,
    ) -> None:
        super().__init__(
            handler, hostname=hostname, port=port or free_port(hostname), **smtp_kwargs
        )
        self.advertise_dsn = advertise_dsn
        self.smtp_class = smtp_class or LenientSMTP
        self.sessions: set[LenientSMTP] = set()

    def factory(self) -> SMTP:
        return self.smtp_class(
            self.handler,
            advertise_dsn=self.advertise_dsn,
            sessions=self.sessions,
            **self.SMTP_kwargs,
        )

    def stop(self, no_assert: bool = False) -> None:
        """Close every open session, then stop the server.

        aiosmtpd stops its loop with clients still connected (a pooled connection to a
        test sink, a relay that keeps its session open): their sockets would be left to
        the garbage collector. They are closed here, on the server's own loop.
        """
        if self._thread is not None and self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._close_sessions(), self.loop).result(5)
            except Exception:  # stopping goes on whatever happened to a session
                log.debug("closing SMTP sessions failed", exc_info=True)
        super().stop(no_assert)

    async def _close_sessions(self) -> None:
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        # Two turns of the loop: the close, then connection_lost, which frees the socket.
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    @property
    def url(self) -> str:
        return f"smtp://{self.hostname}:{self.port}"
