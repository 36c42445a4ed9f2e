"""``python -m benchmarks.throughput``: notices/s, latency, CPU, Redis and RSS of our worker
against a naive worker and the transport ceiling, with real Redis, Celery and SMTP."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from worker.notices import keys
from worker.notices.record import notice_id_for

from . import ceiling, naive
from .procs import ROOT, Group, Worker, stop_all
from .sink import SinkProcess

KINDS = ("pipeline", "naive", "ceiling")
LOCALES = ("zh-TW", "en")
SECRET = "bench-secret-0123456789abcdef0123456789"
MAIL_FROM = "Billing <billing@example.com>"
RESULTS = ROOT / "benchmarks" / "results"
#: Every kind runs in one layout, by default the one `celery -A worker worker` gives with
#: no pool flags: prefork with one child per CPU, in one worker process. The pipeline's
#: sending engine keeps SMTP_CONCURRENCY sends in flight per process whatever the pool.
DEFAULT_POOL = "prefork"
DEFAULT_CONCURRENCY = os.cpu_count() or 2
DEFAULT_PROCESSES = 1


@dataclass(frozen=True)
class Layout:
    pool: str
    concurrency: int
    processes: int

    def __str__(self) -> str:
        return f"{self.pool} c={self.concurrency} x{self.processes}"


@dataclass(frozen=True)
class Config:
    redis_url: str
    n: int
    n_latency: int
    rounds: int
    latencies: tuple[float, ...]
    kinds: tuple[str, ...]
    layout: Layout
    smtp_pool: int | None
    stall_timeout: float
    keep_logs: Path


def load_cases() -> list[dict[str, Any]]:
    return list(json.loads((ROOT / "samples" / "cases.json").read_text()).values())


def run_tag() -> str:
    """Eight random letters: digits could add up, with the sequence number, to a run that
    the worker rightly refuses as a card number."""
    return "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])


def build_events(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` events: every sample case in both locales, in turn; unique event ids,
    subscriptions and recipients (each subscription's admin has an address of their own)."""
    variants = [(case, loc) for case in load_cases() for loc in LOCALES]
    events = []
    for i in range(n):
        case, locale = variants[i % len(variants)]
        local, _, domain = case["admin_email"].partition("@")
        events.append(
            {
                **case,
                "event_id": f"bench-{tag}-{i:06d}",
                # A subscription of its own: failures of one subscription join one
                # reminder sequence (one notice), and each event here is to be mailed.
                "subscription_id": f"{case['subscription_id']}-{tag}{i}",
                "locale": locale,
                "admin_email": f"{local}+{tag}{i}@{domain}",
            }
        )
    return events


def base_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMTP_", "REDIS_", "BROKER_", "BENCH_"))
    }
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    return env


def worker_env(cfg: Config, smtp_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = base_env()
    env.update(
        {
            "REDIS_URL": cfg.redis_url,
            "BENCH_BROKER_URL": cfg.redis_url,
            "SMTP_URL": smtp_url,
            "SECRET_KEY": SECRET,
            "MAIL_FROM": MAIL_FROM,
            "LOG_LEVEL": "INFO",
            # The benchmark's Redis is a throwaway: it need not keep anything on disk.
            "ALLOW_VOLATILE_REDIS": "true",
        }
    )
    env.update(extra or {})
    return env


def render_ceiling_mail(path: Path) -> Path:
    """One notice rendered with our own renderer and MIME builder, as the ceiling sends it."""
    from worker.intake.events import parse_event
    from worker.render.message import build_message, to_bytes
    from worker.render.renderer import Renderer
    from worker.settings import from_env

    settings = from_env({"SECRET_KEY": SECRET, "MAIL_FROM": MAIL_FROM})
    event = parse_event({**load_cases()[0], "locale": "zh-TW"})
    rendered = Renderer(settings).render(event)
    msg = build_message(
        rendered,
        to=event.admin_email,
        notice_id="ceiling0000000000000",
        generation=0,
        settings=settings,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(msg))
    return path


def workers_for(kind: str, cfg: Config, smtp_url: str, tag: str) -> Group:
    logs = cfg.keep_logs
    if kind == "pipeline":
        # The worker's own SMTP_CONCURRENCY unless told otherwise.
        env = worker_env(
            cfg, smtp_url, {"SMTP_CONCURRENCY": str(cfg.smtp_pool)} if cfg.smtp_pool else {}
        )
        return Group(
            [
                Worker(
                    "worker",
                    env,
                    cfg.layout.pool,
                    cfg.layout.concurrency,
                    log_path=logs / f"pipeline{i}.log",
                    name=f"pipe{i}-{tag}",
                )
                for i in range(cfg.layout.processes)
            ]
        )
    # The baselines run in the pipeline's layout: the same pool, concurrency and number of
    # worker processes, so that a ratio compares the code and nothing else.
    pool, concurrency = cfg.layout.pool, cfg.layout.concurrency
    if kind == "naive":
        env = worker_env(cfg, smtp_url)
        return Group(
            [
                Worker(
                    "benchmarks.naive",
                    env,
                    pool,
                    concurrency,
                    queue=naive.QUEUE,
                    log_path=logs / f"naive{i}.log",
                    name=f"naive{i}-{tag}",
                )
                for i in range(cfg.layout.processes)
            ]
        )
    env = worker_env(
        cfg, smtp_url, {"BENCH_CEILING_MAIL": str(render_ceiling_mail(logs / "ceiling.eml"))}
    )
    return Group(
        [
            Worker(
                "benchmarks.ceiling",
                env,
                pool,
                concurrency,
                queue=ceiling.QUEUE,
                log_path=logs / f"ceiling{i}.log",
                name=f"ceiling{i}-{tag}",
            )
            for i in range(cfg.layout.processes)
        ]
    )


def layout_of(kind: str, cfg: Config) -> str:
    return str(cfg.layout)  # one layout for every kind


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# -- Redis -----------------------------------------------------------------------------
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def _memory(r: redis.Redis, keys: list[str]) -> int:
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
    return sum(int(v or 0) for v in pipe.execute())


def redis_bytes_per_notice(r: redis.Redis, sample: int = 500) -> dict[str, Any]:
    """MEMORY USAGE of each sampled notice's keys, plus its share of the indexes."""
    ids = [str(i) for i in r.zrange(keys.IDX_ALL, 0, -1)]
    if not ids:
        return {"notices": 0}
    picked = random.sample(ids, min(sample, len(ids)))
    # The record, its history and (since the worker keeps it beside the record) its event.
    per_keys = _memory(
        r, [k for i in picked for k in (keys.notice(i), keys.history(i), keys.event(i))]
    )
    index_keys = [
        keys.IDX_ALL,
        keys.SCHED,
        *r.scan_iter(keys.idx_status("*"), count=1000),
        *r.scan_iter(keys.address("*"), count=1000),
    ]
    indexes = _memory(r, [k for k in index_keys if r.exists(k)])
    every = _memory(r, list(r.scan_iter(keys.PREFIX + "*", count=1000)))
    record = per_keys / len(picked)
    share = indexes / len(ids)
    return {
        "notices": len(ids),
        "sampled": len(picked),
        "record_bytes": round(record),
        "index_share_bytes": round(share),
        "bytes_per_notice": round(record + share),
        "all_pdn_keys_bytes_per_notice": round(every / len(ids)),
    }


def statuses(r: redis.Redis) -> dict[str, int]:
    return {k.rsplit(":", 1)[1]: int(r.zcard(k)) for k in r.scan_iter(keys.idx_status("*"))}


# -- one run ---------------------------------------------------------------------------
def key_for(kind: str, event: dict[str, Any]) -> str:
    return notice_id_for(event["event_id"]) if kind == "pipeline" else str(event["event_id"])


def publish(
    kind: str, app: Celery, events: list[dict[str, Any]], published: dict[str, float]
) -> None:
    task, queue = {
        "pipeline": ("notices.charge_failed", "celery"),
        "naive": (naive.TASK, naive.QUEUE),
        "ceiling": (ceiling.TASK, ceiling.QUEUE),
    }[kind]
    with app.producer_or_acquire() as producer:
        for event in events:
            published[key_for(kind, event)] = time.time()
            app.send_task(task, args=[event], queue=queue, producer=producer)


def run_once(
    kind: str, cfg: Config, sink: SinkProcess, n: int, round_no: int, soak: bool = False
) -> dict[str, Any]:
    tag = run_tag()
    r = redis_client(cfg.redis_url)
    r.flushdb()
    events = build_events(n, tag)
    keys = {key_for(kind, e) for e in events}
    group = workers_for(kind, cfg, sink.url, tag)
    app = Celery("bench-publisher", broker=cfg.redis_url)
    app.conf.update(task_serializer="json", broker_connection_retry_on_startup=True)
    acceptances = sink.acceptances
    assert acceptances is not None
    rss_samples: list[tuple[float, int, int]] = []  # (t, accepted, rss kB)
    try:
        group.start()
        cpu_before = group.cpu()
        published: dict[str, float] = {}
        publish(kind, app, events, published)
        t0 = min(published.values())
        publish_s = max(published.values()) - t0
        last_count, last_progress, next_sample = 0, time.monotonic(), 0.0
        while True:
            count = acceptances.count(keys)
            now = time.monotonic()
            if soak and now >= next_sample:
                rss_samples.append((time.time() - t0, count, group.rss_kb()))
                next_sample = now + 1.0
            if count >= n:
                break
            if count != last_count:
                last_count, last_progress = count, now
            elif now - last_progress > cfg.stall_timeout:
                tails = "\n".join(w.tail(1500) for w in group.workers)
                raise RuntimeError(f"{kind}: stalled at {count}/{n} accepted\n{tails}")
            time.sleep(0.02)
        cpu = group.cpu() - cpu_before
        peak_rss = group.peak_rss_kb()
        if soak:
            rss_samples.append((time.time() - t0, n, group.rss_kb()))
        accepted = acceptances.snapshot(keys)
        result: dict[str, Any] = {
            "kind": kind,
            "round": round_no,
            "layout": layout_of(kind, cfg),
            "n": n,
        }
        if kind == "pipeline":
            deadline = time.monotonic() + 15
            while statuses(r).get("sent", 0) < n and time.monotonic() < deadline:
                time.sleep(0.1)
            result["statuses"] = statuses(r)
            result["dsn_options_sent"] = acceptances.dsn_count(keys)
            result["redis"] = redis_bytes_per_notice(r)
    finally:
        group.stop()
        app.close()
    wall = max(accepted.values()) - t0
    latencies = [(accepted[k] - published[k]) * 1000 for k in keys]
    result.update(
        {
            "wall_s": round(wall, 3),
            "publish_s": round(publish_s, 3),
            "notices_per_s": round(n / wall, 1),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "cpu_s": round(cpu, 2),
            "cpu_ms_per_notice": round(cpu / n * 1000, 3),
            "peak_rss_mb": round(peak_rss / 1024, 1),
        }
    )
    if soak:
        result["rss_samples"] = rss_samples
        result["soak"] = soak_summary(rss_samples, n)
    return result


def soak_summary(samples: list[tuple[float, int, int]], n: int) -> dict[str, Any]:
    at_10 = next((s for s in samples if s[1] >= n * 0.10), samples[0])
    end = samples[-1]
    growth = (end[2] - at_10[2]) / at_10[2] * 100 if at_10[2] else float("nan")
    return {
        "rss_at_10pct_mb": round(at_10[2] / 1024, 1),
        "rss_end_mb": round(end[2] / 1024, 1),
        "rss_max_mb": round(max(s[2] for s in samples) / 1024, 1),
        "growth_pct": round(growth, 1),
        # The bound: RSS flat within ± 5 % once the worker is warm.
        "target_pct": 5.0,
        "ok": abs(growth) <= 5.0,
    }


# -- summary and printing --------------------------------------------------------------
def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per latency: each kind's figures averaged over rounds, then the ratios."""
    out: dict[str, Any] = {}
    for latency in sorted({r["latency_ms"] for r in runs}):
        block: dict[str, Any] = {}
        for kind in KINDS:
            mine = [r for r in runs if r["latency_ms"] == latency and r["kind"] == kind]
            if not mine:
                continue
            fig: dict[str, Any] = {
                "rounds": len(mine),
                "n": mine[0]["n"],
                "layout": mine[0]["layout"],
            }
            for name in (
                "notices_per_s",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "cpu_ms_per_notice",
                "peak_rss_mb",
            ):
                fig[name] = round(statistics.fmean(r[name] for r in mine), 3)
            fig["cpu_s_per_notice"] = round(fig["cpu_ms_per_notice"] / 1000, 6)
            if kind == "pipeline":
                fig["redis_bytes_per_notice"] = round(
                    statistics.fmean(r["redis"]["bytes_per_notice"] for r in mine)
                )
                fig["dsn_options_sent"] = sum(r["dsn_options_sent"] for r in mine)
                fig["sent"] = sum(r["statuses"].get("sent", 0) for r in mine)
            block[kind] = fig
        ratios: dict[str, float | None] = {}
        pipe = block.get("pipeline", {}).get("notices_per_s")
        for other in ("naive", "ceiling"):
            base = block.get(other, {}).get("notices_per_s")
            ratios[f"pipeline/{other}"] = round(pipe / base, 2) if pipe and base else None
        block["ratios"] = ratios
        key = str(int(latency)) if float(latency).is_integer() else str(latency)
        loopback = out.get("0", {}).get("pipeline", {}).get("notices_per_s")
        if latency and pipe and loopback:
            # How much of its own loopback rate the pipeline keeps with a distant relay.
            ratios["pipeline/own loopback"] = round(pipe / loopback, 2)
        out[key] = block
    return out


def print_run(r: dict[str, Any]) -> None:
    extra = ""
    if r["kind"] == "pipeline":
        st = r["statuses"]
        extra = (
            f"  [{st.get('sent', 0)} sent, DSN options on {r['dsn_options_sent']}, "
            f"Redis {r['redis']['bytes_per_notice']} B/notice]"
        )
    print(
        f"  round {r['round']}  {r['kind']:<8} {r['layout']:<18} {r['n']:>6} "
        f"{r['notices_per_s']:>9.1f} {r['p50_ms']:>9.1f} {r['p95_ms']:>9.1f} "
        f"{r['p99_ms']:>9.1f} {r['cpu_ms_per_notice']:>8.2f} {r['peak_rss_mb']:>8.1f}{extra}",
        flush=True,
    )


HEADER = (
    f"  {'':7}  {'kind':<8} {'layout':<18} {'N':>6} {'notices/s':>9} {'p50 ms':>9} "
    f"{'p95 ms':>9} {'p99 ms':>9} {'CPU ms/n':>8} {'peakRSS':>8}"
)


#: The targets each ratio is held to, by relay latency ("*" for any latency above 0).
TARGETS: dict[str, dict[str, float]] = {
    "0": {"pipeline/naive": 2.0, "pipeline/ceiling": 0.6},
    "20": {"pipeline/naive": 2.0, "pipeline/own loopback": 0.8},
    "100": {"pipeline/own loopback": 0.6},
}


def print_summary(summary: dict[str, Any]) -> None:
    for latency, block in summary.items():
        where = "loopback" if float(latency) == 0 else f"+{latency} ms per reply"
        print(f"\n== summary, relay latency {latency} ms ({where}); mean over rounds ==")
        for kind in KINDS:
            if kind not in block:
                continue
            f = block[kind]
            print(
                f"  {kind:<8} {f['layout']:<18} {f['notices_per_s']:>8.1f} notices/s   "
                f"p50/p95/p99 {f['p50_ms']:.0f}/{f['p95_ms']:.0f}/{f['p99_ms']:.0f} ms   "
                f"CPU {f['cpu_ms_per_notice']:.2f} ms/notice   "
                f"peak RSS {f['peak_rss_mb']:.0f} MB"
            )
        for name, value in block["ratios"].items():
            target = TARGETS.get(latency, {}).get(name)
            verdict = ""
            if value is not None and target is not None:
                verdict = "  OK" if value >= target else "  below target"
            shown = "n/a" if value is None else f"{value:.2f}"
            wanted = f"(target ≥ {target})" if target is not None else ""
            print(f"  {name:<22} {shown:>6}   {wanted}{verdict}")
        if "pipeline" in block:
            b = block["pipeline"]["redis_bytes_per_notice"]
            print(
                f"  Redis per tracked notice: {b} B (target ≤ 1024){'  OK' if b <= 1024 else ''}"
                f"   pipeline peak RSS (sum of worker processes): "
                f"{block['pipeline']['peak_rss_mb']:.0f} MB"
            )


# -- main ------------------------------------------------------------------------------
@contextlib.contextmanager
def cleanup() -> Iterator[None]:
    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        stop_all()
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__)
    p.add_argument("--n", type=int, default=2000, help="events per run at loopback")
    p.add_argument(
        "--n-latency",
        type=int,
        default=500,
        help="events per run when the relay adds latency (default 500)",
    )
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument(
        "--relay-latency-ms",
        type=float,
        action="append",
        default=None,
        help="delay before each SMTP reply (repeatable; default: 0, 20 and 100)",
    )
    p.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="which of pipeline,naive,ceiling to run (default: all three)",
    )
    p.add_argument(
        "--pool",
        "--pipeline-pool",
        dest="pool",
        default=DEFAULT_POOL,
        choices=("prefork", "threads"),
        help="Celery pool of every kind (default prefork, as `celery worker` starts)",
    )
    p.add_argument(
        "--concurrency",
        "--pipeline-concurrency",
        dest="concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="pool size of every kind (default: the CPU count, Celery's own default)",
    )
    p.add_argument(
        "--processes",
        "--pipeline-processes",
        dest="processes",
        type=int,
        default=DEFAULT_PROCESSES,
        help="celery worker processes of every kind (each with the pool above)",
    )
    p.add_argument(
        "--smtp-concurrency",
        "--pipeline-smtp-pool",
        dest="smtp_pool",
        type=int,
        default=None,
        help="SMTP_CONCURRENCY of the pipeline (default: the worker's own)",
    )
    p.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/12",
        help="a Redis database of its own: it is flushed before each run",
    )
    p.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    p.add_argument(
        "--soak",
        type=int,
        default=None,
        metavar="N",
        help="run the pipeline alone with N events, sampling its RSS every second",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="profile the pipeline in-process (no Celery) under pyinstrument",
    )
    p.add_argument("--profile-n", type=int, default=1000)
    p.add_argument("--stall-timeout", type=float, default=90.0)
    p.add_argument("--logs", type=Path, default=RESULTS / "logs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    latencies = tuple(args.relay_latency_ms) if args.relay_latency_ms else (0.0, 20.0, 100.0)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if unknown := set(kinds) - set(KINDS):
        raise SystemExit(f"unknown kinds: {', '.join(sorted(unknown))}")
    cfg = Config(
        redis_url=args.redis_url,
        n=args.n,
        n_latency=args.n_latency,
        rounds=args.rounds,
        latencies=latencies,
        kinds=kinds,
        layout=Layout(args.pool, args.concurrency, args.processes),
        smtp_pool=args.smtp_pool,
        stall_timeout=args.stall_timeout,
        keep_logs=args.logs,
    )
    redis_client(cfg.redis_url).ping()
    if args.profile:
        from .profile import run_profile

        return run_profile(cfg.redis_url, args.profile_n, latencies[0], RESULTS, args.json)
    with cleanup():
        if args.soak:
            return soak(cfg, args.soak, latencies[0], args.json)
        return benchmark(cfg, args.json)


def benchmark(cfg: Config, json_path: Path | None) -> int:
    runs: list[dict[str, Any]] = []
    print(
        f"layout of every kind: {cfg.layout}; pipeline SMTP_CONCURRENCY="
        f"{cfg.smtp_pool or 'worker default'}; "
        f"{os.cpu_count()} CPUs; Redis {cfg.redis_url} (flushed before each run)"
    )
    for latency in cfg.latencies:
        n = cfg.n if latency == 0 else cfg.n_latency
        sink = SinkProcess(latency).start()
        try:
            print(
                f"\n== relay latency {latency:g} ms: N={n} per run"
                f"{' (smaller N at this latency: --n-latency)' if latency else ''}, "
                f"{cfg.rounds} round(s) alternating {', '.join(cfg.kinds)} =="
            )
            print(HEADER)
            for round_no in range(1, cfg.rounds + 1):
                for kind in cfg.kinds:
                    result = run_once(kind, cfg, sink, n, round_no)
                    result["latency_ms"] = latency
                    runs.append(result)
                    print_run(result)
        finally:
            sink.stop()
    summary = summarize(runs)
    print_summary(summary)
    print(
        "\nnotices/s = N / (last SMTP acceptance − first publish); latency = publish → "
        "the sink's 250 after DATA (all N published at once, so it includes queueing); "
        "CPU = user+sys of the worker processes and their children (/proc), start-up "
        "excluded; peak RSS = VmHWM summed over the worker processes."
    )
    if json_path:
        write_json(json_path, {"config": config_dict(cfg), "runs": runs, "summary": summary})
    return 0


def soak(cfg: Config, n: int, latency: float, json_path: Path | None) -> int:
    sink = SinkProcess(latency).start()
    try:
        print(
            f"soak: pipeline alone, {cfg.layout}, N={n}, relay latency {latency:g} ms; "
            f"RSS sampled every second",
            flush=True,
        )
        result = run_once("pipeline", cfg, sink, n, 1, soak=True)
        result["latency_ms"] = latency
    finally:
        sink.stop()
    print(HEADER)
    print_run(result)
    s = result["soak"]
    for t, count, rss in result["rss_samples"][:: max(1, len(result["rss_samples"]) // 20)]:
        print(f"  t={t:7.1f} s  accepted={count:>7}  RSS={rss / 1024:7.1f} MB")
    print(
        f"RSS at 10% mark {s['rss_at_10pct_mb']} MB → end {s['rss_end_mb']} MB "
        f"(max {s['rss_max_mb']} MB): growth {s['growth_pct']}% "
        f"(target ≤ {s['target_pct']}%){'  OK' if s['ok'] else '  ABOVE TARGET'}"
    )
    if json_path:
        write_json(json_path, {"config": config_dict(cfg), "soak": result})
    return 0


def config_dict(cfg: Config) -> dict[str, Any]:
    return {
        "redis_url": cfg.redis_url,
        "n": cfg.n,
        "n_latency": cfg.n_latency,
        "rounds": cfg.rounds,
        "latencies_ms": list(cfg.latencies),
        "kinds": list(cfg.kinds),
        "layout": str(cfg.layout),
        "pipeline_smtp_concurrency": cfg.smtp_pool or "worker default",
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {path}")


if __name__ == "__main__":
    raise SystemExit(main())
