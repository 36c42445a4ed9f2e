"""Addresses on the ops pages: masked (``a***@example.com``) unless asked (?addresses=full)."""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context, redirect, request, url_for
from werkzeug.wrappers import Response

from worker.intake.addresses import mask
from worker.logs import mask_addresses

#: The query parameter, and its one value, that shows a page's addresses in full.
PARAM = "addresses"
FULL = "full"


def full() -> bool:
    """Whether this request asked for addresses in full (``?addresses=full``)."""
    return has_request_context() and request.args.get(PARAM) == FULL


def address(value: object) -> str:
    """One address as the page shows it: masked unless asked (the ``address`` filter). A
    value without an ``@`` (``(erased)``, after ``notices forget``) is shown as it is."""
    if value is None:
        return ""
    text = str(value)
    return text if full() or "@" not in text else mask(text)


def in_text(value: object) -> str:
    """Text (a reason, a diagnostic, a history entry, a JSON payload) with every address in
    it masked unless asked (the ``addresses`` filter)."""
    if value is None:
        return ""
    text = str(value)
    return text if full() else mask_addresses(text)


def keep(query: dict[str, Any]) -> dict[str, Any]:
    """``query`` (for a link to another page of the same list) with ``addresses=full``
    added when this page has it, so paging does not mask them again."""
    return {**query, PARAM: FULL} if full() else dict(query)


def back(endpoint: str, **values: Any) -> Response:
    """The 303 after a form to ``endpoint``'s page, in full when the form was sent from a
    page in full (its action carries ``addresses=full``)."""
    return redirect(url_for(endpoint, **keep(values)), code=303)


def switch_url(show_full: bool) -> str:
    """This page's URL with every query parameter kept but ``addresses``: set to ``full``
    when ``show_full``, left out otherwise (the "Show addresses in full" / "Mask addresses"
    link)."""
    path = dict(request.view_args or {})
    # Not a path part's name, nor one of url_for's own (``_external``, ``_anchor``…).
    params: dict[str, Any] = {
        k: v
        for k, v in request.args.to_dict(flat=False).items()
        if k != PARAM and k not in path and not k.startswith("_")
    }
    if show_full:
        params[PARAM] = FULL
    return url_for(request.endpoint or "preview.index", **path, **params)


def install(app: Flask) -> None:
    """The Jinja filters ``address`` and ``addresses`` and the switch's helpers."""
    app.jinja_env.filters["address"] = address
    app.jinja_env.filters["addresses"] = in_text
    app.jinja_env.globals["addresses_full"] = full
    app.jinja_env.globals["addresses_switch_url"] = switch_url
