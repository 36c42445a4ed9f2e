"""What a process checks when it starts: the settings it needs, a store that keeps its data,
and (for ``check``) a relay that answers — so that a mistake stops it with one line
instead of deferring every notice for days."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
import redis

from worker.errors import ConfigurationError, StoreUnavailable
from worker.net import redact_url
from worker.notices.connection import MEMORY_URL, connect
from worker.settings import Settings
from worker.smtp.target import TLSMode, check_credentials_allowed, parse_smtp_url

#: The only eviction policy under which Redis never drops a record to make room.
SAFE_POLICY = "noeviction"


def require(settings: Settings, *, secret: bool = False, relay: bool = False) -> None:
    """Raise ConfigurationError, naming the variable, when a needed setting is missing."""
    if secret:
        settings.require_secret()
    if relay:
        parse_smtp_url(settings.smtp_url)


def persistence_problems(client: Any) -> list[str]:
    """Why this Redis would lose what the tracking store keeps, if it restarted."""
    try:
        appendonly = client.config_get("appendonly").get("appendonly")
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        # CONFIG renamed or refused (managed Redis services do this): cannot tell.
        return []
    problems = []
    if appendonly != "yes":
        problems.append(
            "appendonly is off: a restart loses the queue, every notice record, "
            "the suppression list and the dead letters"
        )
    if policy and policy != SAFE_POLICY:
        problems.append(
            f"maxmemory-policy is {policy}: when memory runs out Redis deletes "
            "records (and the dedupe that sends each notice once)"
        )
    return problems


def check_store(settings: Settings) -> list[str]:
    """Connect to the tracking store and check it keeps its data; returns the warnings a
    volatile store allowed by ALLOW_VOLATILE_REDIS still deserves.

    Raises StoreUnavailable when it cannot be reached, ConfigurationError when it would
    lose data (unless ALLOW_VOLATILE_REDIS=true) or the URL names a database it lacks.
    """
    url = settings.redis_url
    if url.startswith(MEMORY_URL):
        return []
    client = connect(url, settings.redis_sentinel_master)
    try:
        client.ping()
    except redis.ResponseError as exc:
        if "DB index" in str(exc):
            raise ConfigurationError(
                f"REDIS_URL names a database that {redact_url(url)} does not have ({exc})"
            ) from None
        raise StoreUnavailable(f"the tracking store at {redact_url(url)} refused: {exc}") from exc
    except redis.RedisError as exc:
        raise StoreUnavailable(
            f"the tracking store at {redact_url(url)} is not reachable ({exc})"
        ) from exc
    problems = persistence_problems(client)
    if problems and not settings.allow_volatile_redis:
        raise ConfigurationError(
            f"the Redis at {redact_url(url)} would lose data: {'; '.join(problems)}. Set "
            "appendonly yes and maxmemory-policy noeviction (README: Running in production), "
            "or ALLOW_VOLATILE_REDIS=true for a throwaway store"
        )
    return problems


@dataclass
class RelayReport:
    """What the relay offered when asked, without sending anything."""

    banner: str = ""
    extensions: dict[str, str] = field(default_factory=dict)
    tls: str | None = None  #: the TLS version of the session, when it has one
    authenticated: bool = False

    def offers(self, name: str) -> bool:
        return name.lower() in self.extensions


async def _probe(settings: Settings) -> RelayReport:
    target = parse_smtp_url(settings.smtp_url)
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    if not settings.smtp_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        timeout=settings.smtp_timeout,
        use_tls=target.mode is TLSMode.IMPLICIT,
        start_tls=True
        if target.mode is TLSMode.STARTTLS
        else (False if target.mode is TLSMode.IMPLICIT else None),
        validate_certs=settings.smtp_tls_verify,
        tls_context=context,
        local_hostname=settings.smtp_helo_name,
    )
    report = RelayReport()
    response = await client.connect()
    try:
        report.banner = response.message
        ssl_object = client.get_transport_info("sslobject")
        report.tls = ssl_object.version() if ssl_object is not None else None
        if target.username is not None:
            check_credentials_allowed(
                target, ssl_object is not None, settings.smtp_allow_plain_auth
            )
            await client.login(target.username, target.password or "")
            report.authenticated = True
        report.extensions = {k.lower(): v for k, v in client.esmtp_extensions.items()}
    finally:
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()
    return report


def probe_relay(settings: Settings) -> RelayReport:
    """EHLO, STARTTLS and AUTH as a send would do them, then QUIT: nothing is sent."""
    return asyncio.run(_probe(settings))
