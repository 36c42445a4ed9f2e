"""The checks page of a preview: links, SpamAssassin, client CSS support and test-send."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from worker.errors import InvalidEvent
from worker.intake.addresses import normalize_address
from worker.net import is_loopback
from worker.render.message import message_bytes
from worker.web.clients import client_report
from worker.web.links import LINK_TIMEOUT, check_links, links_of, trusted_urls
from worker.web.preview import _one, canonical_locale
from worker.web.spam import spam_report
from worker.web.state import state
from worker.web.testsend import SENDS_PER_MINUTE, RateLimit, send_test_mail

bp = Blueprint("checks", __name__)
#: One limit per app process; keyed by a random id kept in the session.
LIMIT = RateLimit()


def _page(name: str, locale: str, **results: Any) -> str:
    canonical = canonical_locale(locale)
    if canonical is None:
        abort(404)
    preview = _one(name, canonical)
    st = state()
    links = links_of(preview.rendered.html, trusted_urls(st.settings, st.renderer.template_dir))
    return render_template(
        "checks.html",
        name=name,
        locale=canonical,
        preview=preview,
        links=links,
        clients=client_report(preview.rendered.html),
        sends_per_minute=SENDS_PER_MINUTE,
        link_timeout=LINK_TIMEOUT,
        **results,
    )


@bp.get("/preview/<name>/<locale>/checks")
def checks(name: str, locale: str) -> str:
    return _page(name, locale)


@bp.post("/preview/<name>/<locale>/checks/links")
def link_status(name: str, locale: str) -> str:
    """Fetch only links whose URL the settings or templates give: the request names none."""
    canonical = canonical_locale(locale) or abort(404)
    preview = _one(name, canonical)
    st = state()
    links = links_of(preview.rendered.html, trusted_urls(st.settings, st.renderer.template_dir))
    return _page(name, locale, statuses=check_links(links))


@bp.post("/preview/<name>/<locale>/checks/spam")
def spam(name: str, locale: str) -> str:
    canonical = canonical_locale(locale) or abort(404)
    return _page(name, locale, spam=spam_report(_one(name, canonical).eml))


def _sender_key() -> str:
    key = session.get("testsend")
    if not isinstance(key, str) or not key:
        key = session["testsend"] = secrets.token_urlsafe(16)
    return key


@bp.post("/preview/<name>/<locale>/checks/send")
def send(name: str, locale: str) -> BaseResponse:
    st = state()
    canonical = canonical_locale(locale) or abort(404)
    back = redirect(url_for("checks.checks", name=name, locale=canonical), code=303)
    # The bind check already keeps a token-less app on loopback; this says so again for
    # the one page that makes the server send mail.
    if not st.settings.ops_token and not is_loopback(request.remote_addr or ""):
        abort(403, "test-send is open only to loopback clients unless OPS_TOKEN is set")
    if not LIMIT.allow(_sender_key()):
        flash(f"at most {LIMIT.limit} test-sends a minute; try again shortly", "error")
        return back
    try:
        to = normalize_address(request.form.get("to", ""), "to")
    except InvalidEvent as exc:
        flash(f"not sent: {exc.reason}", "error")
        return back
    preview = _one(name, canonical)
    raw = message_bytes(
        preview.rendered, to=to, notice_id=preview.notice_id, generation=0, settings=st.settings
    )
    sent, message = send_test_mail(st.settings, raw, to, f"{name} · {canonical}")
    flash(message, "ok" if sent else "error")
    return back
