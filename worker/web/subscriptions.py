"""A subscription's page: every sequence and notice of it on one timeline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from worker.intake.addresses import mask
from worker.logs import scrub as mask_addresses
from worker.notices.timeline import SUBSCRIPTION_SEQUENCES, subscription_view
from worker.web.state import state

bp = Blueprint("subscriptions", __name__)


def _masked(view: dict[str, Any]) -> dict[str, Any]:
    """The subscription view with every address masked (``a***@example.com``), in the
    records and in any text of the histories (a bounce's diagnostic may quote one)."""
    notices = [dict(n, to=mask(n.get("to"))) for n in view["notices"]]
    timeline = [
        {k: mask_addresses(v) if isinstance(v, str) else v for k, v in entry.items()}
        for entry in view["timeline"]
    ]
    return dict(view, notices=notices, timeline=timeline)


@bp.get("/subscriptions/<path:subscription_id>")
def show(subscription_id: str) -> tuple[str, int]:
    """A subscription's whole timeline: every notice of each of its sequences (every round
    and step) and their histories merged with the sequences' events, in time order."""
    pipeline = state().pipeline()
    view = subscription_view(pipeline.tracker, pipeline.sequences, subscription_id)
    full = request.args.get("addresses") == "full"
    if view is not None and not full:
        view = _masked(view)
    return render_template(
        "subscription.html",
        subscription_id=subscription_id,
        view=view,
        full=full,
        limit=SUBSCRIPTION_SEQUENCES,
    ), 200 if view is not None else 404
