"""Small network helpers every stage shares: loopback checks, free ports, URLs without passwords."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from worker.errors import ConfigurationError


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; any other name or address is not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for servers started on port 0's behalf)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_free(host: str, port: int) -> None:
    """Refuse, with a one-line error, an address that cannot be listened on (in use, say)."""
    # Tried here on sockets of our own because a server failing to bind (waitress) leaves its
    # socket open; SO_REUSEADDR as waitress sets it, which still refuses a port in use.
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host} port {port}: {exc.strerror or exc}"
        ) from exc


def redact_url(url: str) -> str:
    """The URL without its password (``redis://:***@host``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(unparsable URL)"
    return url.replace(f":{password}@", ":***@") if password else url
