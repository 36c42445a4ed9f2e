"""SVG charts drawn on the server (no script, no chart library, no network)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from worker.notices.record import iso
from worker.notices.stats import (
    DOMAIN_STATUSES,
    LATENCY_BOUNDS,
    LATENCY_STATUSES,
    bound_label,
    latency_histogram,
    percentile,
)

#: Colours by status, readable on white.
COLOURS = {
    "queued": "#7b8794",
    "sending": "#9aa5b1",
    "sent": "#0b57d0",
    "deferred": "#d97706",
    "delivered": "#15803d",
    "bounced": "#c81e1e",
    "failed": "#7e22ce",
    "suppressed": "#52606d",
}


@dataclass(frozen=True)
class Series:
    """One line of a chart: a name and a value per hour."""

    name: str
    values: list[int]


def hourly_series(hours: list[tuple[int, dict[str, int]]], statuses: list[str]) -> list[Series]:
    """Status changes per hour, one series per status that has any."""
    series = [Series(s, [row.get(f"status:{s}", 0) for _, row in hours]) for s in statuses]
    return [s for s in series if any(s.values)]


def bounce_totals(hours: list[tuple[int, dict[str, int]]]) -> list[tuple[str, int]]:
    """``(kind · reason, count)`` over all the hours, largest first."""
    totals: dict[str, int] = {}
    for _, row in hours:
        for field, value in row.items():
            if field.startswith("bounce:"):
                _, kind, reason = field.split(":", 2)
                label = f"{kind} · {reason}"
                totals[label] = totals.get(label, 0) + value
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def line_chart(
    series: list[Series], first_hour: int, width: int = 720, height: int = 220
) -> Markup:
    """Lines per hour with a legend; the hours along the bottom (UTC)."""
    top = max((max(s.values) for s in series), default=0) or 1
    count = max((len(s.values) for s in series), default=1)
    left, bottom, right = 40, 30, 10
    plot_w, plot_h = width - left - right, height - bottom - 10

    def x(i: int) -> float:
        return left + (plot_w * i / max(count - 1, 1))

    def y(v: int) -> float:
        return 10 + plot_h - plot_h * v / top

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + 20 * len(series)}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="status changes per hour">',
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - right}" y2="{10 + plot_h}" '
        'stroke="#9aa5b1"/>',
        f'<text x="{left - 6}" y="14" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{left - 6}" y="{10 + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{left}" y="{height - 8}" font-size="11">'
        f"{escape(iso(first_hour * 3600)[:13])}h</text>",
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" font-size="11">'
        f"{escape(iso((first_hour + count - 1) * 3600)[:13])}h UTC</text>",
    ]
    for n, s in enumerate(series):
        colour = COLOURS.get(s.name, "#1f2933")
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            f'<polyline data-series="{escape(s.name)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" points="{points}"/>'
        )
        legend_y = height + 20 * n + 6
        parts.append(f'<rect x="{left}" y="{legend_y}" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + 18}" y="{legend_y + 11}" font-size="12">'
            f"{escape(s.name)} ({sum(s.values)})</text>"
        )
    parts.append("</svg>")
    # Every piece of text in it went through escape() above.
    return Markup("".join(parts))  # noqa: S704


def bar_chart(rows: list[tuple[str, int]], width: int = 720) -> Markup:
    """Horizontal bars, one per label."""
    top = max((v for _, v in rows), default=0) or 1
    label_w, bar_h = 220, 22
    height = bar_h * max(len(rows), 1) + 4
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" aria-label="bounces by kind and reason">'
    ]
    for i, (label, value) in enumerate(rows):
        y = 2 + i * bar_h
        w = (width - label_w - 60) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect data-bar="{escape(label)}" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
            f'height="{bar_h - 6}" fill="#c81e1e"/>'
        )
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{value}</text>')
    parts.append("</svg>")
    # Every piece of text in it went through escape() above.
    return Markup("".join(parts))  # noqa: S704


#: The percentiles drawn for send latency.
PERCENTILES = ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))


@dataclass(frozen=True)
class Latency:
    """One latency (queued → sent, or → delivered): how many were counted, and each
    percentile as the upper bound of the bucket that holds it."""

    status: str
    count: int
    percentiles: list[tuple[str, float | None]]


def latencies(hours: list[tuple[int, dict[str, int]]]) -> list[Latency]:
    """Sent and delivered latency over ``hours``, from the counters' buckets."""
    out = []
    for status in LATENCY_STATUSES:
        histogram = latency_histogram(hours, status)
        out.append(
            Latency(
                status,
                sum(n for _, n in histogram),
                [(name, percentile(histogram, q)) for q, name in PERCENTILES],
            )
        )
    return out


def latency_chart(rows: list[Latency], width: int = 480) -> Markup:
    """One bar per percentile, its length the bucket it falls in (each bucket one step,
    so seconds and days share the scale), labelled with the bucket's bound."""
    label_w, bar_h, gap = 120, 22, 10
    plot_w = width - label_w - 85
    lines = [(r, name, bound) for r in rows if r.count for name, bound in r.percentiles]
    height = bar_h * max(len(lines), 1) + gap * max(len(rows) - 1, 0) + 4
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" aria-label="time from queued to sent and to '
        'delivered, percentiles">'
    ]
    y = 2
    previous = ""
    for row, name, bound in lines:
        if previous and previous != row.status:
            y += gap
        previous = row.status
        steps = LATENCY_BOUNDS.index(bound) + 1 if bound is not None else 0
        w = plot_w * steps / len(LATENCY_BOUNDS)
        label = bound_label(bound) if bound is not None else "–"
        colour = COLOURS.get(row.status, "#1f2933")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="15">'
            f"{escape(row.status)} {escape(name)}</text>"
        )
        parts.append(
            f'<rect data-percentile="{escape(row.status)}-{escape(name)}" x="{label_w}" '
            f'y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="15">{escape(label)}</text>'
        )
        y += bar_h
    parts.append("</svg>")
    # Every piece of text in it went through escape() above.
    return Markup("".join(parts))  # noqa: S704


def domain_chart(rows: list[tuple[str, dict[str, int]]], width: int = 480) -> Markup:
    """One stacked bar per recipient domain: its outcomes by status, with a legend."""
    top = max((sum(per.values()) for _, per in rows), default=0) or 1
    label_w, bar_h = 175, 24
    plot_w = width - label_w - 45
    legend_y = bar_h * len(rows) + 8
    height = legend_y + 22 * ((len(DOMAIN_STATUSES) + 2) // 3) + 4
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" aria-label="outcomes by recipient domain">'
    ]
    for i, (domain, per) in enumerate(rows):
        y = 2 + i * bar_h
        shown = domain if len(domain) <= 20 else "…" + domain[-19:]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="15">'
            f"<title>{escape(domain)}</title>{escape(shown)}</text>"
        )
        x = float(label_w)
        for status in DOMAIN_STATUSES:
            if not per.get(status):
                continue
            w = plot_w * per[status] / top
            parts.append(
                f'<rect data-domain="{escape(domain)}" data-status="{status}" x="{x:.1f}" '
                f'y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="{COLOURS[status]}">'
                f"<title>{escape(domain)} {status}: {per[status]}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="15">{sum(per.values())}</text>'
        )
    for n, status in enumerate(DOMAIN_STATUSES):
        lx, ly = 10 + (n % 3) * 150, legend_y + 22 * (n // 3)
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{COLOURS[status]}"/>')
        parts.append(f'<text x="{lx + 18}" y="{ly + 12}" font-size="15">{status}</text>')
    parts.append("</svg>")
    # Every piece of text in it went through escape() above.
    return Markup("".join(parts))  # noqa: S704
