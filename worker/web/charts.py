"""The ops charts page: the store's per-hour counters as server-side SVG."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from worker.notices.status import Status
from worker.web.state import state
from worker.web.svg import bar_chart, bounce_totals, hourly_series, line_chart

bp = Blueprint("charts", __name__)


@bp.get("/charts")
def charts() -> str:
    """Status changes per hour and bounces by kind and reason, from the store's counters."""
    try:
        hours = min(24 * 14, max(1, int(request.args.get("hours", "48"))))
    except ValueError:
        hours = 48
    rows = state().pipeline().tracker.stats.hours(hours)
    series = hourly_series(rows, [str(s) for s in Status])
    bounces = bounce_totals(rows)
    return render_template(
        "charts.html",
        hours=hours,
        statuses=line_chart(series, rows[0][0]) if series else None,
        bounces=bar_chart(bounces) if bounces else None,
    )
