"""Sentinel URLs in kombu's format, read for the tracking store's redis-py client.

One URL for the broker and the store: ``sentinel://[:password@]host1:26379;
sentinel://host2:26379/0``, one ``sentinel://`` per Sentinel, the database after the
last one, the master's name in REDIS_SENTINEL_MASTER (kombu's ``master_name``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from worker.errors import ConfigurationError

SCHEME = "sentinel://"


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    db: int
    username: str | None
    password: str | None


def is_sentinel(url: str) -> bool:
    return url.startswith(SCHEME)


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The Sentinels, database and master credentials a sentinel:// URL names."""
    hosts: list[tuple[str, int]] = []
    db, username, password = 0, None, None
    for segment in url.split(";"):
        parts = urlsplit(segment.strip())
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ConfigurationError(
                "a Sentinel URL is sentinel://host:26379;sentinel://host2:26379/0 "
                "(one sentinel:// per Sentinel)"
            )
        try:
            port = parts.port or 26379
        except ValueError:
            raise ConfigurationError("a Sentinel URL has an invalid port") from None
        hosts.append((parts.hostname, port))
        # kombu takes the credentials and database from whichever segment names them.
        if parts.password is not None:
            username = unquote(parts.username) if parts.username else None
            password = unquote(parts.password)
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise ConfigurationError(
                    f"a Sentinel URL's database must be a number, not {path!r}"
                )
            db = int(path)
    return SentinelTarget(tuple(hosts), db, username, password)
