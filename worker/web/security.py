"""Who may use the web app: binding, Host names, cross-site refusal, ops token, CSRF, headers."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, abort, redirect, render_template, request, session
from werkzeug.wrappers import Response as BaseResponse

from worker.errors import ConfigurationError
from worker.logs import mask_secrets
from worker.net import is_loopback
from worker.settings import Settings

#: The cookie that remembers a valid ``?token=`` for WEB_SESSION_HOURS: its issue time and
#: an HMAC over it keyed by the token, never the token.
TOKEN_COOKIE = "pdn_ops"  # noqa: S105  (a cookie name, not a secret)
_COOKIE_PURPOSE = "past-due-notices ops cookie"
#: Seconds a cookie's issue time may lie ahead of the clock (the clock stepped back).
COOKIE_CLOCK_SLACK = 300
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing; every other one needs the CSRF token and a same-origin request.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Served without the token: what the token page itself needs to look like every other
#: page (the stylesheet and the icon), the same for everyone and holding no data.
OPEN_PATHS = frozenset({"/static/app.css", "/favicon.ico"})
#: ``name[:port]`` of a Host header (Werkzeug has already refused invalid characters).
_HOST = re.compile(r"(?P<name>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")
#: The notice HTML may style itself and show inline images, nothing else (no script,
#: no network, no forms): it is someone else's markup as far as this app is concerned.
#: ``allow-same-origin`` (never with ``allow-scripts``) lets the page around it read the
#: mail's height and size the frame to it; with scripts off and ``script-src`` unset
#: under ``default-src 'none'``, nothing in the mail can use that origin.
SANDBOX = "allow-same-origin"
SANDBOX_CSP = f"sandbox {SANDBOX}; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: The app's own pages: everything from this origin, nothing from anywhere else.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; frame-ancestors 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)


def check_bind(host: str, ops_token: str | None) -> None:
    """Refuse to listen beyond this machine unless every page is behind OPS_TOKEN."""
    if is_loopback(host):
        return
    if not ops_token:
        raise ConfigurationError(
            f"refusing to listen on {host}: the ops pages can replay notices and show "
            "addresses, so binding to anything but a loopback address requires OPS_TOKEN "
            "(every page then asks for it); or use --host 127.0.0.1"
        )


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether ``host`` (a Host header, any port) is one of ``allowed`` (``*.`` = any subdomain).

    The DNS rebinding defence: a page at evil.example that rebinds its name to 127.0.0.1
    still makes the browser send ``Host: evil.example``, which no allowed name matches.
    """
    match = _HOST.fullmatch(host.lower())
    if match is None or (match["port"] and not 1 <= int(match["port"]) <= 65535):
        return False
    name = match["name"]
    for pattern in allowed:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
                return True
        elif name == pattern:
            return True
    return False


def _own_origin(origin: str) -> bool:
    """Whether ``origin`` is this app's: the Host the request came to, same scheme.

    An ``https`` origin for an ``http`` request is this app behind its TLS proxy (the
    README's advice); the reverse, a plain-HTTP page posting to a TLS app, is not.
    """
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    scheme_ok = parts.scheme == request.scheme or (
        parts.scheme == "https" and request.scheme == "http"
    )
    return (
        scheme_ok
        and bool(request.host)
        and parts.netloc.lower() == request.host.lower()
        and not (parts.path or parts.query or parts.fragment)
    )


def cross_site_refusal() -> str | None:
    """Why this (state-changing) request looks cross-site, or None when it does not.

    ``Sec-Fetch-Site`` is what browsers say about the initiator; ``Origin`` covers browsers
    without it. The pages send ``Referrer-Policy: no-referrer``, under which a browser sends
    ``Origin: null`` even for our own forms, so ``null`` passes only when ``Sec-Fetch-Site``
    says same-origin or is absent (the CSRF token is still checked after this).
    """
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    site_value = site.strip().lower() if site is not None else None
    if site_value is not None and site_value not in ("same-origin", "none"):
        return f"refused a cross-site request (Sec-Fetch-Site: {site_value})"
    if origin is None:
        return None
    if origin.strip() == "null":
        if site_value not in (None, "same-origin"):
            return f"refused a request from an opaque origin (Sec-Fetch-Site: {site_value})"
        return None
    if not _own_origin(origin.strip()):
        return "refused a request from another origin (Origin does not match this page)"
    return None


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the settings hold: none of them may ever appear in a page or a log."""
    return settings.secret_values()


def scrub(text: str, settings: Settings) -> str:
    """``text`` with every secret of ``settings`` replaced by ***."""
    return mask_secrets(text, secrets_of(settings))


def now() -> int:
    """The clock the ops cookie's expiry reads (a function of its own, so tests can move it)."""
    return int(time.time())


def cookie_value(token: str, issued: int) -> str:
    """``<issued>.<HMAC-SHA256 keyed by the token over the issue time>``: never the token.

    Keyed by the token, so a cookie from before a token change matches nothing.
    """
    mac = hmac.new(token.encode(), f"{_COOKIE_PURPOSE}|{issued}".encode(), hashlib.sha256)
    return f"{issued}.{mac.hexdigest()}"


def cookie_valid(cookie: str, token: str, hours: int) -> bool:
    """Whether ``cookie`` was issued for ``token`` less than ``hours`` ago."""
    issued_text, dot, _ = cookie.partition(".")
    if not (dot and issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 12):
        return False
    issued = int(issued_text)
    age = now() - issued
    # A little slack for a clock stepped back; a cookie from further ahead is not ours.
    if not -COOKIE_CLOCK_SLACK <= age < hours * 3600:
        return False
    return hmac.compare_digest(cookie.encode(), cookie_value(token, issued).encode())


def _authorized(token: str, hours: int) -> bool:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(
        header[7:].strip().encode(), token.encode()
    ):
        return True
    cookie = request.cookies.get(TOKEN_COOKIE, "")
    return bool(cookie) and cookie_valid(cookie, token, hours)


def _token_login(token: str, hours: int) -> BaseResponse | None:
    """``?token=`` once: set the cookie and come back without the token in the URL."""
    given = request.args.get("token")
    if given is None or not hmac.compare_digest(given.encode(), token.encode()):
        return None
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    target = request.path + (f"?{urlencode(rest)}" if rest else "")
    response = redirect(target, code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        cookie_value(token, now()),
        max_age=hours * 3600,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        path="/",
    )
    return response


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return (
        isinstance(expected, str)
        and bool(expected)
        and hmac.compare_digest(given.encode(), expected.encode())
    )


def install(app: Flask, settings: Settings) -> None:
    """Register the token check, the CSRF check and the security headers on ``app``."""
    token = settings.ops_token
    hours = settings.web_session_hours
    allowed_hosts = settings.web_allowed_hosts

    # Registered first, so nothing else (not even the token login) sees a foreign Host.
    @app.before_request
    def known_host() -> tuple[str, int] | None:
        if host_allowed(request.host, allowed_hosts):
            return None
        return render_template(
            "error.html",
            title="Unknown host",
            message=f"This server does not answer to the host name {request.host!r}: "
            f"it answers only to {', '.join(allowed_hosts)} (set WEB_ALLOWED_HOSTS to "
            "the names you browse to). A name that is not on that list can be a DNS "
            "rebinding attack.",
        ), 400

    @app.before_request
    def same_origin() -> None:
        if request.method not in SAFE_METHODS and (why := cross_site_refusal()):
            abort(403, f"{why}: forms here may only be sent from this app's own pages")

    @app.before_request
    def guard() -> BaseResponse | tuple[str, int] | None:
        if token and not (request.method in SAFE_METHODS and request.path in OPEN_PATHS):
            login = _token_login(token, hours)
            if login is not None:
                return login
            if not _authorized(token, hours):
                return render_template(
                    "error.html",
                    title="Token required",
                    message="Every page needs the ops token: send 'Authorization: Bearer "
                    "<token>', or open any page once with ?token=<token> (remembered for "
                    f"{hours} hours, WEB_SESSION_HOURS).",
                    token_form=request.path,
                ), 401
        if request.method not in SAFE_METHODS and not _csrf_ok():
            abort(403, "missing or wrong CSRF token; reload the page and try again")
        return None

    @app.errorhandler(403)
    def forbidden(exc: Exception) -> tuple[str, int]:
        return render_template(
            "error.html", title="Forbidden", message=getattr(exc, "description", "forbidden")
        ), 403

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
