"""The production WSGI server for the web pages: waitress (pure Python, no request log)."""

from __future__ import annotations

import logging
from typing import Any, Protocol
from wsgiref.types import WSGIApplication

import waitress  # type: ignore[import-untyped]

from worker.errors import ConfigurationError
from worker.net import check_free

log = logging.getLogger(__name__)


class Server(Protocol):
    """What the CLI and the tests use of a waitress server."""

    effective_port: int

    def run(self) -> None: ...

    def close(self) -> None: ...


def make_server(app: WSGIApplication, host: str, port: int, **adjustments: Any) -> Server:
    """A waitress server for ``app``, listening on host:port (serving once ``run()``)."""
    check_free(host, port)
    # waitress writes no per-request line and logs only a path (never a query) when a
    # request fails; its logger has no handler of its own, so what it does say goes
    # through the root handler that worker.logs.setup installed: masked.
    try:
        server: Server = waitress.create_server(
            app,
            host=host,
            port=port,
            ident="past-due-notices",
            # X-Forwarded-* from a client would otherwise reach the app unchecked.
            clear_untrusted_proxy_headers=True,
            **adjustments,
        )
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host} port {port}: {exc.strerror}") from exc
    return server
