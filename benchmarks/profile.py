"""``--profile``: the pipeline in-process (no Celery) under pyinstrument, time per component."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .sink import SinkProcess

#: (component, test on (function, file path)); the deepest matching frame on the stack names
#: the component its time goes to.
Rule = tuple[str, Callable[[str, str], bool]]
RULES: list[Rule] = [
    ("validate (parse_event)", lambda f, p: "worker/intake/" in p),
    ("render: context (Babel formatting)", lambda f, p: f == "build_context"),
    ("render: Jinja2 templates", lambda f, p: "/jinja2/" in p or p.endswith((".html", ".txt"))),
    ("render: text wrapping helpers", lambda f, p: p.endswith("worker/render/textwrap_cjk.py")),
    ("render: gettext lookups", lambda f, p: p.endswith(("babel/support.py", "/gettext.py"))),
    (
        "render: CSS inline (premailer/lxml/cssutils)",
        lambda f, p: (
            p.endswith("worker/render/inline.py")
            or f == "inline_css"
            or any(m in p for m in ("/premailer/", "/cssutils/", "/lxml/", "/cssselect/"))
        ),
    ),
    (
        "MIME build + serialize (email)",
        lambda f, p: p.endswith("worker/render/message.py") or "/email/" in p,
    ),
    ("render: other (subject/text tidy, glue)", lambda f, p: "worker/render/" in p),
    ("Redis (store, scripts, counters)", lambda f, p: "/redis/" in p or "worker/notices/" in p),
    ("Return-Path and Message-ID (HMAC)", lambda f, p: p.endswith("worker/smtp/proof.py")),
    (
        "SMTP (send + wait for the relay)",
        lambda f, p: "worker/smtp/" in p or "/aiosmtplib/" in p or "/concurrent/futures/" in p,
    ),
    ("logging", lambda f, p: p.endswith("worker/logs.py") or "/logging/" in p),
    (
        "metrics (prometheus_client)",
        lambda f, p: p.endswith("worker/metrics.py") or "/prometheus_client/" in p,
    ),
]
OTHER = "other (pipeline glue, json)"


def classify(
    frame: Any,
    current: str,
    totals: dict[str, float],
    functions: dict[tuple[str, str, str], float],
    parent: Any = None,
) -> None:
    function = frame.function or ""
    path = frame.file_path or ""
    owner = parent if (frame.is_synthetic or not path) and parent is not None else frame
    for name, test in RULES:
        if path and test(function, path):
            current = name
            break
    self_time = frame.time - sum(child.time for child in frame.children)
    if self_time > 0:
        totals[current] += self_time
        where = f"{owner.file_path_short or ''}:{owner.line_no or ''}"
        functions[(current, owner.function or "", where)] += self_time
    for child in frame.children:
        classify(child, current, totals, functions, owner)


def run_profile(
    redis_url: str, n: int, latency_ms: float, out_dir: Path, json_path: Path | None
) -> int:
    from pyinstrument import Profiler

    from worker.notices.pipeline import Pipeline
    from worker.settings import from_env

    from .throughput import MAIL_FROM, SECRET, build_events, run_tag

    redis.Redis.from_url(redis_url).flushdb()
    sink = SinkProcess(latency_ms).start()
    try:
        settings = from_env(
            {
                "REDIS_URL": redis_url,
                "SMTP_URL": sink.url,
                "SECRET_KEY": SECRET,
                "MAIL_FROM": MAIL_FROM,
                "LOG_LEVEL": "INFO",
            }
        )
        from worker.logs import setup

        setup(settings.log_level, settings.log_format)
        _quiet_logs()
        pipeline = Pipeline(settings)
        tag = run_tag()
        warm = build_events(40, "warm" + tag)
        for event in warm:  # template compilation, first connection: not per-notice costs
            pipeline.handle_event(event)
        # One pass unprofiled: the real time per notice, without the sampler's overhead.
        plain_t0 = time.perf_counter()
        for event in build_events(n, "plain" + tag):
            pipeline.handle_event(event)
        plain = time.perf_counter() - plain_t0
        events = build_events(n, tag)
        profiler = Profiler(interval=0.0005)
        statuses: dict[str, int] = defaultdict(int)
        cpu0, t0 = time.process_time(), time.perf_counter()
        profiler.start()
        for event in events:
            statuses[str(pipeline.handle_event(event).status or "invalid")] += 1
        profiler.stop()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        sink.stop()
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    totals: dict[str, float] = defaultdict(float)
    functions: dict[tuple[str, str, str], float] = defaultdict(float)
    if root is not None:
        classify(root, OTHER, totals, functions)
    sampled = sum(totals.values()) or 1.0
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile.html").write_text(profiler.output_html())
    (out_dir / "profile.txt").write_text(profiler.output_text(unicode=True, color=False))
    # Shares come from the profiled pass; µs are scaled to the unprofiled pass.
    per_notice_us = plain / n * 1e6
    print(
        f"profile: {n} notices in-process (Pipeline.handle_event, no Celery), relay latency "
        f"{latency_ms:g} ms, sink in its own process; statuses {dict(statuses)}"
    )
    print(
        f"unprofiled: {per_notice_us:.0f} µs per notice ({n / plain:.0f} notices/s on one "
        f"thread); profiled: {wall / n * 1e6:.0f} µs wall, process CPU {cpu / n * 1e6:.0f} µs "
        f"per notice (includes the SMTP loop thread). µs below = share × unprofiled time."
    )
    print(f"\n{'component':<46} {'µs/notice':>10} {'share':>7}")
    breakdown = []
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        share = seconds / sampled
        us = share * per_notice_us
        breakdown.append(
            {"component": name, "us_per_notice": round(us, 1), "share": round(share, 4)}
        )
        print(f"{name:<46} {us:>10.0f} {share:>6.1%}")
    print("\ntop functions by self time (µs per notice):")
    top = sorted(functions.items(), key=lambda kv: -kv[1])[:25]
    for (component, function, where), seconds in top:
        print(
            f"  {seconds / sampled * per_notice_us:>7.0f}  {function:<34} {where:<50} [{component}]"
        )
    print(f"\nfull profile: {out_dir / 'profile.html'} and {out_dir / 'profile.txt'}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps(
                {
                    "n": n,
                    "latency_ms": latency_ms,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "unprofiled_s": plain,
                    "us_per_notice": per_notice_us,
                    "breakdown": breakdown,
                    "top_functions": [
                        {
                            "component": c,
                            "function": f,
                            "where": w,
                            "us_per_notice": round(s / sampled * per_notice_us, 1),
                        }
                        for (c, f, w), s in top
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


def _quiet_logs() -> None:
    """Log lines go to /dev/null (a worker's go to its log file), still formatted."""
    import logging

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
