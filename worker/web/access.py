"""One access log line per request, through the project's masking logs (never a raw URL)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from worker.logs import redact_path, redact_query

log = logging.getLogger("worker.web.access")

#: What a WSGI app may pass as start_response's third argument (PEP 3333).
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


def _wsgi_text(value: str) -> str:
    """A WSGI environ string (bytes decoded as latin-1, PEP 3333) back to the UTF-8 text."""
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


def request_line(environ: WSGIEnvironment, secrets: Iterable[str]) -> str:
    """``GET /notices?token=***&address=a***%40example.com``: method, path and query masked."""
    kept = list(secrets)
    path = _wsgi_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    query = redact_query(environ.get("QUERY_STRING", ""), kept)
    method = redact_path(str(environ.get("REQUEST_METHOD", "-")), kept)
    return f"{method} {redact_path(path, kept)}" + (f"?{query}" if query else "")


class AccessLog:
    """WSGI middleware: after each request, ``<request line> <status> <ms>ms from <peer>``.

    It replaces the server's own request log (Werkzeug's printed ``?token=`` and filter
    addresses verbatim); ``secrets`` are masked here as well as by the formatter.
    """

    def __init__(self, app: WSGIApplication, secrets: Iterable[str] = ()) -> None:
        self.app = app
        self.secrets = tuple(secrets)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["-"]

        def recording(
            code: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, recording)
        finally:
            log.info(
                "%s %s %dms from %s",
                request_line(environ, self.secrets),
                status[0],
                (time.perf_counter() - started) * 1000,
                environ.get("REMOTE_ADDR", "-"),
            )
