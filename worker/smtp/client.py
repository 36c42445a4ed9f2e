"""Sending over SMTP: a pool of reused connections per process, with DSN options."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass

import aiosmtplib

from worker.errors import ConfigurationError, SMTPTimeout
from worker.metrics import CONNECTIONS_OPEN
from worker.settings import Settings
from worker.smtp.loop import Loop
from worker.smtp.replies import Accepted, ReplyClass, classify
from worker.smtp.slots import ConnectionSlots
from worker.smtp.target import TLSMode, check_credentials_allowed, parse_smtp_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pooled:
    client: aiosmtplib.SMTP
    born: float  #: time.monotonic() when connected
    last_used: float
    used: int  #: mails sent on it


class _StaleConnection(Exception):
    """The connection was gone before MAIL: nothing was sent on it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        #: What to raise if a fresh connection does not help.
        self.error = error


class Transport:
    """A pool of SMTP connections to one relay, usable from any thread."""

    #: Reconnect after this many seconds or mails: relays drop idle sessions (Postfix's
    #: smtpd_timeout is 300 s, some relays a minute or less) and some cap mails per
    #: connection (Exchange: 100 by default).
    MAX_AGE = 240.0
    MAX_IDLE = 30.0
    MAX_MAILS = 100

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.target = parse_smtp_url(settings.smtp_url)
        self.timeout = settings.smtp_timeout
        self._idle: list[_Pooled] = []
        self._slots: asyncio.Semaphore | None = None
        self._tls: ssl.SSLContext | None = None
        #: Slots shared with every worker (RELAY_MAX_CONNECTIONS), set by the worker's
        #: wiring; None: no limit beyond this process's own.
        self.shared_slots: ConnectionSlots | None = None

    def _tls_context(self) -> ssl.SSLContext:
        # Built once per transport: loading the CA bundle costs milliseconds of CPU on the
        # event loop, and the engine opens dozens of connections at once.
        if self._tls is None:
            context = ssl.create_default_context(cafile=self.settings.smtp_ca_file)
            if not self.settings.smtp_tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls = context
        return self._tls

    async def _connect(self) -> aiosmtplib.SMTP:
        t = self.target
        client = aiosmtplib.SMTP(
            hostname=t.host,
            port=t.port,
            timeout=self.timeout,
            use_tls=t.mode is TLSMode.IMPLICIT,
            # aiosmtplib's default (None) upgrades only when offered and otherwise sends in
            # plain text without a word; smtp+starttls:// must refuse instead.
            start_tls=True
            if t.mode is TLSMode.STARTTLS
            else (False if t.mode is TLSMode.IMPLICIT else None),
            validate_certs=self.settings.smtp_tls_verify,
            tls_context=self._tls_context(),
            # Relays check the EHLO name; a container's "localhost" or random id is refused
            # by some, and counted against us by spam filters downstream.
            local_hostname=self.settings.smtp_helo_name,
        )
        if self.shared_slots is not None:
            deadline = asyncio.get_running_loop().time() + self.timeout
            await self.shared_slots.acquire(client, deadline)
        try:
            await client.connect()
            if t.username is not None:
                check_credentials_allowed(
                    t,
                    client.get_transport_info("sslobject") is not None,
                    self.settings.smtp_allow_plain_auth,
                )
                await client.login(t.username, t.password or "")
        except BaseException:
            client.close()
            if self.shared_slots is not None:
                await self.shared_slots.release(client)
            raise
        CONNECTIONS_OPEN.inc()
        return client

    async def _close(self, client: aiosmtplib.SMTP) -> None:
        await _quietly_quit(client)
        CONNECTIONS_OPEN.dec()
        if self.shared_slots is not None:
            await self.shared_slots.release(client)

    async def _acquire(self) -> tuple[_Pooled, bool]:
        """A connection from the pool, or a new one; and whether it was reused."""
        now = time.monotonic()
        while self._idle:
            pooled = self._idle.pop()
            if (
                pooled.client.is_connected
                and now - pooled.born < self.MAX_AGE
                and now - pooled.last_used < self.MAX_IDLE
                and pooled.used < self.MAX_MAILS
            ):
                return pooled, True
            await self._close(pooled.client)
        try:
            return _Pooled(await self._connect(), now, now, 0), False
        except ConfigurationError:
            raise
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise classify(exc, "auth") from exc
        except Exception as exc:
            raise classify(exc, "connect") from exc

    def _release(self, pooled: _Pooled, sent: int) -> None:
        self._idle.append(_Pooled(pooled.client, pooled.born, time.monotonic(), pooled.used + sent))

    async def _send(
        self, message: bytes, sender: str, recipient: str, envelope_id: str | None
    ) -> Accepted:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.smtp_concurrency)
        async with self._slots:
            pooled, reused = await self._acquire()
            try:
                return await self._transaction(pooled, message, sender, recipient, envelope_id)
            except _StaleConnection as stale:
                # The relay had closed the idle connection (and we only learn it now):
                # nothing was sent, so try once more on a fresh one rather than defer the
                # notice for a whole retry delay.
                if not reused:
                    raise stale.error from stale.__cause__
                pooled, _ = await self._acquire()
                try:
                    return await self._transaction(pooled, message, sender, recipient, envelope_id)
                except _StaleConnection as again:
                    raise again.error from again.__cause__

    async def _transaction(
        self, pooled: _Pooled, message: bytes, sender: str, recipient: str, envelope_id: str | None
    ) -> Accepted:
        client = pooled.client
        phase = "mail"
        try:
            dsn = self.settings.smtp_dsn and client.supports_extension("dsn")
            mail_options, rcpt_options = [], []
            if dsn:
                # RFC 3461: return only headers (RET=HDRS: the notice body is the
                # customer's business, not the relay's), tie reports to the notice
                # (ENVID) and ask for every outcome, including success and delay.
                mail_options = ["RET=HDRS"] + ([f"ENVID={envelope_id}"] if envelope_id else [])
                rcpt_options = ["NOTIFY=SUCCESS,FAILURE,DELAY", f"ORCPT=rfc822;{xtext(recipient)}"]
            if client.supports_extension("smtputf8") and not message.isascii():
                mail_options.append("SMTPUTF8")
            await client.mail(sender, options=mail_options)
            phase = "rcpt"
            # rcpt() for our single recipient raises SMTPRecipientRefused, which carries
            # the code; sendmail() would raise SMTPRecipientsRefused without one.
            await client.rcpt(recipient, options=rcpt_options)
            phase = "data"
            reply = await client.data(message)
        except Exception as exc:
            # Closed while idle: either the close arrives with our MAIL, or the relay's
            # "421 4.4.2 timeout" (Postfix says so before it hangs up) reads as MAIL's reply.
            if phase == "mail" and (
                isinstance(exc, (aiosmtplib.SMTPServerDisconnected, ConnectionError))
                or (isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421)
            ):
                await self._close(client)
                raise _StaleConnection(classify(exc, phase)) from exc
            error = classify(exc, phase)
            if (
                isinstance(exc, aiosmtplib.SMTPResponseException)
                and client.is_connected
                and phase != "data"
                and ReplyClass.of(exc.code) is not ReplyClass.TRANSIENT
            ):
                # A refused envelope leaves the session usable after RSET. Not after a
                # 4xx: a relay that rate-limits per connection ("451 4.7.0 too many
                # messages") would refuse every later mail on this session too.
                try:
                    await client.rset()
                    self._release(pooled, 0)
                except Exception:
                    await self._close(client)
            else:
                await self._close(client)
            raise error from exc
        self._release(pooled, 1)
        return Accepted(code=reply.code, message=reply.message, dsn=dsn)

    async def send_async(
        self, message: bytes, sender: str, recipient: str, envelope_id: str | None = None
    ) -> Accepted:
        """Send one mail on the process's event loop (the sending engine's way in)."""
        return await self._send(message, sender, recipient, envelope_id)

    def send(
        self, message: bytes, sender: str, recipient: str, envelope_id: str | None = None
    ) -> Accepted:
        """Send one mail, blocking; raises TransientError, PermanentError or ConfigurationError."""
        # Bounded overall: connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA each have a timeout.
        budget = self.timeout * 8 + 5
        try:
            return Loop.get().run(
                lambda: self._send(message, sender, recipient, envelope_id), budget
            )
        except TimeoutError as exc:
            if isinstance(exc, SMTPTimeout):
                raise
            raise SMTPTimeout(
                "send took longer than its overall budget", unknown_outcome=True
            ) from exc

    def close(self) -> None:
        async def close_all() -> None:
            while self._idle:
                await self._close(self._idle.pop().client)

        with contextlib.suppress(Exception):  # closing is best effort
            Loop.get().run(close_all, 5)


async def _quietly_quit(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), 2)
    except Exception:
        client.close()


def xtext(value: str) -> str:
    """RFC 3461 §4: encode ``+``, ``=``, controls and non-ASCII as ``+HH``."""
    return "".join(
        c if 33 <= ord(c) <= 126 and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
        for c in value
    )


_transports: dict[tuple[int, str], Transport] = {}
_transports_lock = threading.Lock()


def get_transport(settings: Settings) -> Transport:
    """The process's transport for ``settings.smtp_url`` (connections are reused across tasks)."""
    key = (os.getpid(), settings.smtp_url)
    with _transports_lock:
        transport = _transports.get(key)
        if transport is None or transport.settings != settings:
            transport = _transports[key] = Transport(settings)
        return transport
