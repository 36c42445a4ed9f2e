"""``python -m benchmarks.rates``: RELAY_RATE held across worker processes, and a throttled
domain slowed alone, with real Redis, Celery worker processes and an SMTP sink."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from .procs import Group, Worker
from .sink import SinkProcess
from .throughput import RESULTS, build_events, cleanup, key_for, publish, run_tag, worker_env

#: The domain the throttle run slows, and the one it must leave alone.
THROTTLED, UNTOUCHED = "gmail.com", "example.org"


def workers(redis_url: str, smtp_url: str, n: int, extra: dict[str, str], logs: Path) -> Group:
    env = worker_env_for(redis_url, smtp_url, extra)
    return Group(
        [
            Worker("worker", env, "prefork", 2, log_path=logs / f"rates{i}.log", name=f"rates{i}")
            for i in range(n)
        ]
    )


def worker_env_for(redis_url: str, smtp_url: str, extra: dict[str, str]) -> dict[str, str]:
    from .throughput import Config, Layout

    cfg = Config(redis_url, 0, 0, 0, (), (), Layout("prefork", 2, 1), None, 0, Path())
    return worker_env(cfg, smtp_url, extra)


def events_for(n: int, domains: tuple[str, ...]) -> list[dict[str, Any]]:
    tag = run_tag()
    events = build_events(n, tag)
    for i, event in enumerate(events):
        local = event["admin_email"].partition("@")[0]
        event["admin_email"] = f"{local}@{domains[i % len(domains)]}"
    return events


def per_second(times: list[float], start: float, end: float) -> list[int]:
    buckets = [0] * max(1, int(end - start))
    for t in times:
        if start <= t < end:
            buckets[min(len(buckets) - 1, int(t - start))] += 1
    return buckets


def relay_rate(args: argparse.Namespace) -> dict[str, Any]:
    """RELAY_RATE with several processes: the sink's count per second over the window."""
    r = redis.Redis.from_url(args.redis_url)
    r.flushdb()
    n = int(args.rate * (args.seconds + 15) * 1.3)  # a backlog for the whole window
    events = events_for(n, (UNTOUCHED,))
    sink = SinkProcess(0).start()
    group = workers(
        args.redis_url, sink.url, args.processes, {"RELAY_RATE": str(args.rate)}, args.logs
    )
    try:
        group.start()
        app = Celery("bench-rates", broker=args.redis_url)
        publish("pipeline", app, events, {})
        assert sink.acceptances is not None
        time.sleep(args.seconds + 10)
        times = sorted(sink.acceptances.snapshot({key_for("pipeline", e) for e in events}).values())
    finally:
        group.stop()
        sink.stop()
    start = times[0] + 5  # past the start-up burst of a full bucket
    buckets = per_second(times, start, start + args.seconds)
    rate = sum(buckets) / len(buckets)
    return {
        "relay_rate": args.rate,
        "processes": args.processes,
        "window_s": len(buckets),
        "measured_per_s": round(rate, 2),
        "deviation_pct": round((rate - args.rate) / args.rate * 100, 2),
        "per_second_stdev": round(statistics.pstdev(buckets), 2),
    }


def throttle(args: argparse.Namespace) -> dict[str, Any]:
    """``421 4.7.28`` for one domain for a while: that domain slows, the other does not."""
    r = redis.Redis.from_url(args.redis_url)
    r.flushdb()
    n = args.throttle_n
    events = events_for(n, (THROTTLED, UNTOUCHED))
    sink = SinkProcess(0, THROTTLED, args.throttle_seconds).start()
    group = workers(args.redis_url, sink.url, args.processes, {}, args.logs)
    try:
        group.start()
        app = Celery("bench-rates", broker=args.redis_url)
        published: dict[str, float] = {}
        publish("pipeline", app, events, published)
        assert sink.acceptances is not None
        by_domain = {
            d: {key_for("pipeline", e) for e in events if e["admin_email"].endswith(d)}
            for d in (THROTTLED, UNTOUCHED)
        }
        deadline = time.monotonic() + args.throttle_seconds + 180
        while sink.acceptances.count(set(published)) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        done = {d: sorted(sink.acceptances.snapshot(ks).values()) for d, ks in by_domain.items()}
    finally:
        group.stop()
        sink.stop()
    t0 = min(published.values())
    out: dict[str, Any] = {"throttle_seconds": args.throttle_seconds, "processes": args.processes}
    # The sink throttles from the first RCPT it sees, a moment before the first acceptance.
    # (A quarter second off the end: the two clocks start a few milliseconds apart.)
    first = min(t for times in done.values() for t in times)
    window_end = first + args.throttle_seconds - 0.25
    for domain, times in done.items():
        during = [t for t in times if t < window_end]
        out[domain] = {
            "accepted": len(times),
            "of": len(by_domain[domain]),
            "accepted_while_throttled": len(during),
            "per_s_while_throttled": round(len(during) / max(0.25, window_end - first), 2),
            "finished_after_s": round(times[-1] - t0, 1) if times else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rates", description=__doc__)
    p.add_argument("--rate", type=float, default=50.0, help="RELAY_RATE (default 50)")
    p.add_argument("--processes", type=int, default=4, help="worker processes (default 4)")
    p.add_argument("--seconds", type=int, default=60, help="measuring window (default 60)")
    p.add_argument("--throttle-seconds", type=float, default=20.0)
    p.add_argument("--throttle-n", type=int, default=600)
    p.add_argument("--skip", choices=("rate", "throttle"), default=None)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    p.add_argument("--logs", type=Path, default=RESULTS / "logs")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    figures: dict[str, Any] = {}
    with cleanup():
        if args.skip != "rate":
            figures["relay_rate"] = fig = relay_rate(args)
            print(
                f"RELAY_RATE={args.rate:g} across {args.processes} processes: "
                f"{fig['measured_per_s']}/s over {fig['window_s']} s "
                f"({fig['deviation_pct']:+.1f} %, target ± 5 %), per-second stdev "
                f"{fig['per_second_stdev']}",
                flush=True,
            )
        if args.skip != "throttle":
            figures["throttle"] = fig = throttle(args)
            for domain in (THROTTLED, UNTOUCHED):
                d = fig[domain]
                print(
                    f"{domain:<12} {d['accepted']}/{d['of']} accepted, the last after "
                    f"{d['finished_after_s']} s; {d['accepted_while_throttled']} "
                    f"({d['per_s_while_throttled']}/s) during the throttle window"
                    + (
                        f"  (421 4.7.28 for the first {args.throttle_seconds:g} s)"
                        if domain == THROTTLED
                        else "  (never throttled)"
                    ),
                    flush=True,
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
