"""A subscription's page: every sequence and notice of it on one timeline."""

from __future__ import annotations

from flask import Blueprint, render_template

from worker.notices.timeline import SUBSCRIPTION_SEQUENCES, subscription_view
from worker.web.state import state

bp = Blueprint("subscriptions", __name__)


@bp.get("/subscriptions/<path:subscription_id>")
def show(subscription_id: str) -> tuple[str, int]:
    """A subscription's whole timeline: every notice of each of its sequences (every round
    and step) and their histories merged with the sequences' events, in time order.
    Addresses are masked by the page's filters (worker.web.masking) unless asked."""
    pipeline = state().pipeline()
    view = subscription_view(pipeline.tracker, pipeline.sequences, subscription_id)
    return render_template(
        "subscription.html",
        subscription_id=subscription_id,
        view=view,
        limit=SUBSCRIPTION_SEQUENCES,
    ), 200 if view is not None else 404
