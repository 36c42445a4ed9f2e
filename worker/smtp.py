"""Sending over SMTP: the SMTP_URL, a pool of reused connections, DSN options, reply classes."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import logging
import os
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import aiosmtplib

from .errors import (
    ConfigurationError,
    PermanentError,
    RecipientRefused,
    SMTPTimeout,
    SMTPUnavailable,
    TransientError,
)
from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class TLSMode(enum.StrEnum):
    OPPORTUNISTIC = "smtp"  #: STARTTLS when the server offers it, plain text otherwise
    STARTTLS = "smtp+starttls"  #: STARTTLS required; refuse to send without it
    IMPLICIT = "smtps"  #: TLS from the first byte (port 465)


class ReplyClass(enum.StrEnum):
    """RFC 5321 §4.2.1: the first digit of a reply code says what to do next."""

    SUCCESS = "2xx"  #: accepted
    TRANSIENT = "4xx"  #: try again later
    PERMANENT = "5xx"  #: do not try again as is
    NONE = "none"  #: no reply: the connection failed or timed out

    @classmethod
    def of(cls, code: int | None) -> ReplyClass:
        return {2: cls.SUCCESS, 4: cls.TRANSIENT, 5: cls.PERMANENT}.get(
            (code or 0) // 100, cls.NONE)


_DEFAULT_PORTS = {TLSMode.OPPORTUNISTIC: 25, TLSMode.STARTTLS: 587, TLSMode.IMPLICIT: 465}


@dataclass(frozen=True)
class SMTPTarget:
    host: str
    port: int
    mode: TLSMode
    username: str | None = None
    password: str | None = None

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __repr__(self) -> str:  # never print the password
        user = f"{self.username}:***@" if self.username else ""
        return f"SMTPTarget({self.mode.value}://{user}{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SMTPTarget:
    """``smtp://[user:pass@]host:port``, ``smtp+starttls://…`` or ``smtps://…``."""
    parts = urlsplit(url)
    try:
        mode = TLSMode(parts.scheme.lower())
    except ValueError:
        raise ConfigurationError(
            f"SMTP_URL scheme must be smtp, smtp+starttls or smtps, not {parts.scheme!r}"
        ) from None
    if not parts.hostname:
        raise ConfigurationError("SMTP_URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[mode]
    except ValueError:
        raise ConfigurationError("SMTP_URL has an invalid port") from None
    return SMTPTarget(
        host=parts.hostname, port=port, mode=mode,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def check_credentials_allowed(target: SMTPTarget, encrypted: bool, allow_plain: bool) -> None:
    """Refuse to send a password unencrypted across a network (loopback is fine)."""
    if target.username is not None and not encrypted and not target.is_loopback \
            and not allow_plain:
        raise ConfigurationError(
            f"refusing to send SMTP credentials in plain text to {target.host}: use "
            "smtp+starttls:// or smtps://, or set SMTP_ALLOW_PLAIN_AUTH=true")


@dataclass(frozen=True)
class Accepted:
    """The relay took the mail (250 after DATA)."""

    code: int
    message: str
    dsn: bool  #: whether DSN options (RFC 3461) were sent


def classify(exc: BaseException, phase: str) -> Exception:
    """Turn what aiosmtplib raised during ``phase`` into our error tree.

    Reply codes decide (4xx transient, 5xx permanent); only a 5xx at RCPT says the
    recipient bounced. Without a reply, a failure during DATA leaves the outcome unknown.
    """
    in_data = phase == "data"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ConfigurationError(f"SMTP authentication refused: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, text = exc.code, f"{exc.code} {exc.message}".strip()
        where = f"at {phase.upper()}: {text}"
        if ReplyClass.of(code) is ReplyClass.PERMANENT:
            if phase == "rcpt":
                return RecipientRefused(f"recipient refused {where}", code=code)
            return PermanentError(f"refused {where}", code=code)
        return TransientError(f"deferred {where}", code=code)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SMTPTimeout(f"timed out during {phase}", unknown_outcome=in_data)
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Not transient in spirit, but the notice is not at fault: keep it deferred while an
        # operator fixes the relay's certificate or SMTP_CA_FILE.
        return TransientError(f"TLS certificate not trusted: {exc.verify_message}")
    if isinstance(exc, (ConnectionError, OSError, aiosmtplib.SMTPException)):
        return SMTPUnavailable(f"connection failed during {phase}: {exc}", unknown_outcome=in_data)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class _Loop:
    """One asyncio loop in a daemon thread per process, shared by every task in it.

    Created lazily and keyed by pid: a prefork child must never reuse its parent's loop
    or sockets.
    """

    _lock = threading.Lock()
    _instance: _Loop | None = None

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="smtp-loop", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> _Loop:
        with cls._lock:
            if cls._instance is None or cls._instance.pid != os.getpid():
                cls._instance = _Loop()
            return cls._instance

    def run(self, factory: Callable[[], Awaitable[T]], timeout: float) -> T:
        async def wrapped() -> T:
            return await factory()
        future = asyncio.run_coroutine_threadsafe(wrapped(), self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            # Stop the send too: left running, it could still deliver after the caller
            # has recorded a failure and scheduled a retry.
            future.cancel()
            raise


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

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.smtp_ca_file)
        if not self.settings.smtp_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _connect(self) -> aiosmtplib.SMTP:
        t = self.target
        client = aiosmtplib.SMTP(
            hostname=t.host, port=t.port, timeout=self.timeout,
            use_tls=t.mode is TLSMode.IMPLICIT,
            # aiosmtplib's default (None) upgrades only when offered and otherwise sends in
            # plain text without a word; smtp+starttls:// must refuse instead.
            start_tls=True if t.mode is TLSMode.STARTTLS else (
                False if t.mode is TLSMode.IMPLICIT else None),
            validate_certs=self.settings.smtp_tls_verify,
            tls_context=self._tls_context(),
            # Relays check the EHLO name; a container's "localhost" or random id is refused
            # by some, and counted against us by spam filters downstream.
            local_hostname=self.settings.smtp_helo_name,
        )
        try:
            await client.connect()
            if t.username is not None:
                check_credentials_allowed(
                    t, client.get_transport_info("sslobject") is not None,
                    self.settings.smtp_allow_plain_auth)
                await client.login(t.username, t.password or "")
        except BaseException:
            client.close()
            raise
        return client

    async def _acquire(self) -> tuple[_Pooled, bool]:
        """A connection from the pool, or a new one; and whether it was reused."""
        now = time.monotonic()
        while self._idle:
            pooled = self._idle.pop()
            if (pooled.client.is_connected and now - pooled.born < self.MAX_AGE
                    and now - pooled.last_used < self.MAX_IDLE and pooled.used < self.MAX_MAILS):
                return pooled, True
            await _quietly_quit(pooled.client)
        try:
            return _Pooled(await self._connect(), now, now, 0), False
        except ConfigurationError:
            raise
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise classify(exc, "auth") from exc
        except Exception as exc:
            raise classify(exc, "connect") from exc

    def _release(self, pooled: _Pooled, sent: int) -> None:
        self._idle.append(_Pooled(pooled.client, pooled.born, time.monotonic(),
                                  pooled.used + sent))

    async def _send(self, message: bytes, sender: str, recipient: str,
                    envelope_id: str | None) -> Accepted:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.smtp_pool_size)
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
                    return await self._transaction(pooled, message, sender, recipient,
                                                   envelope_id)
                except _StaleConnection as again:
                    raise again.error from again.__cause__

    async def _transaction(self, pooled: _Pooled, message: bytes, sender: str,
                           recipient: str, envelope_id: str | None) -> Accepted:
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
                rcpt_options = ["NOTIFY=SUCCESS,FAILURE,DELAY",
                                f"ORCPT=rfc822;{xtext(recipient)}"]
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
                    or (isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421)):
                await _quietly_quit(client)
                raise _StaleConnection(classify(exc, phase)) from exc
            error = classify(exc, phase)
            if isinstance(exc, aiosmtplib.SMTPResponseException) and client.is_connected \
                    and phase != "data" \
                    and ReplyClass.of(exc.code) is not ReplyClass.TRANSIENT:
                # A refused envelope leaves the session usable after RSET. Not after a
                # 4xx: a relay that rate-limits per connection ("451 4.7.0 too many
                # messages") would refuse every later mail on this session too.
                try:
                    await client.rset()
                    self._release(pooled, 0)
                except Exception:
                    await _quietly_quit(client)
            else:
                await _quietly_quit(client)
            raise error from exc
        self._release(pooled, 1)
        return Accepted(code=reply.code, message=reply.message, dsn=dsn)

    def send(self, message: bytes, sender: str, recipient: str,
             envelope_id: str | None = None) -> Accepted:
        """Send one mail, blocking; raises TransientError, PermanentError or ConfigurationError."""
        # Bounded overall: connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA each have a timeout.
        budget = self.timeout * 8 + 5
        try:
            return _Loop.get().run(lambda: self._send(message, sender, recipient, envelope_id),
                                   budget)
        except TimeoutError as exc:
            if isinstance(exc, SMTPTimeout):
                raise
            raise SMTPTimeout("send took longer than its overall budget",
                              unknown_outcome=True) from exc

    def close(self) -> None:
        async def close_all() -> None:
            while self._idle:
                await _quietly_quit(self._idle.pop().client)
        with contextlib.suppress(Exception):  # closing is best effort
            _Loop.get().run(close_all, 5)


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
        for c in value)


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
