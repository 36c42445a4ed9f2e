"""The ops charts page: the store's per-hour counters as server-side SVG."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from worker.notices.stats import DOMAIN_CAP, DOMAIN_STATUSES, bound_label, domain_outcomes
from worker.notices.status import Status
from worker.web.state import state
from worker.web.svg import (
    bar_chart,
    bounce_totals,
    domain_chart,
    hourly_series,
    latencies,
    latency_chart,
    line_chart,
)

bp = Blueprint("charts", __name__)

#: Domains drawn one by one; the rest are summed as "(other)".
TOP_DOMAINS = 15


@bp.app_template_filter("latency_bound")
def latency_bound(bound: float | None) -> str:
    """A percentile's bucket bound as the page says it (``≤ 15 s``; ``–`` for none)."""
    return "–" if bound is None else bound_label(bound)


@bp.get("/charts")
def charts() -> str:
    """Status changes per hour, bounces by kind and reason, send latency percentiles and
    outcomes by recipient domain, from the store's counters."""
    try:
        hours = min(24 * 14, max(1, int(request.args.get("hours", "48"))))
    except ValueError:
        hours = 48
    rows = state().pipeline().tracker.stats.hours(hours)
    series = hourly_series(rows, [str(s) for s in Status])
    bounces = bounce_totals(rows)
    latency = latencies(rows)
    domains = domain_outcomes(rows, TOP_DOMAINS)
    return render_template(
        "charts.html",
        hours=hours,
        statuses=line_chart(series, rows[0][0]) if series else None,
        bounces=bar_chart(bounces) if bounces else None,
        latency=latency,
        latency_svg=latency_chart(latency) if any(r.count for r in latency) else None,
        domains=domains,
        domain_statuses=DOMAIN_STATUSES,
        top_domains=TOP_DOMAINS,
        domain_cap=DOMAIN_CAP,
        domains_svg=domain_chart(domains) if domains else None,
    )
