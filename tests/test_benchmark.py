"""Smoke test of ``python -m benchmarks.throughput``: it runs and reports every figure."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.events import ROOT
from tests.support.processes import TEST_REDIS_URL, redis_available

#: The suite's own database (the benchmark flushes it), never one it was not told to use.
BENCH_REDIS_URL = TEST_REDIS_URL


@pytest.mark.bench
def test_benchmark_smoke_reports_the_three_figures_and_ratios(tmp_path: Path) -> None:
    if not redis_available(BENCH_REDIS_URL):
        pytest.skip(f"Redis is not answering at {BENCH_REDIS_URL}")
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.throughput",
            "--n",
            "50",
            "--rounds",
            "1",
            "--relay-latency-ms",
            "0",
            "--json",
            str(out),
            "--redis-url",
            BENCH_REDIS_URL,
            "--logs",
            str(tmp_path / "logs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    loopback = data["summary"]["0"]
    for kind in ("pipeline", "naive", "ceiling"):
        figures = loopback[kind]
        assert figures["n"] == 50
        for name in (
            "notices_per_s",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "cpu_s_per_notice",
            "peak_rss_mb",
        ):
            assert isinstance(figures[name], (int, float)), (kind, name)
    assert set(loopback["ratios"]) == {"pipeline/naive", "pipeline/ceiling"}
    assert all(isinstance(v, float) for v in loopback["ratios"].values())
    pipeline = loopback["pipeline"]
    assert pipeline["sent"] == 50
    assert pipeline["dsn_options_sent"] == 50  # the sink offered DSN and the worker used it
    assert pipeline["redis_bytes_per_notice"] > 0
    assert len(data["runs"]) == 3


@pytest.mark.bench
def test_bounce_benchmark_smoke_prints_parse_and_ingest_rates() -> None:
    """``python -m benchmarks.bounce_parse``: one round of parsing, and an ingest of a few."""
    for args in (["1"], ["--ingest", "--messages", "12"]):
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.bounce_parse", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert re.search(r"\b\d+ messages/s$", result.stdout.strip()), result.stdout
    assert "12 message(s)" in result.stdout


@pytest.mark.bench
def test_rates_benchmark_smoke_reports_the_rate_and_the_throttled_domain(
    tmp_path: Path,
) -> None:
    """``python -m benchmarks.rates`` at a small scale: both figures come out."""
    if not redis_available(BENCH_REDIS_URL):
        pytest.skip(f"Redis is not answering at {BENCH_REDIS_URL}")
    out = tmp_path / "rates.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.rates",
            *("--rate", "10", "--processes", "1", "--seconds", "3"),
            *("--throttle-seconds", "2", "--throttle-n", "20"),
            *("--redis-url", BENCH_REDIS_URL, "--logs", str(tmp_path / "logs")),
            *("--json", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["relay_rate"]["measured_per_s"] > 0
    assert data["throttle"]["gmail.com"]["accepted"] == 10
    assert data["throttle"]["example.org"]["accepted"] == 10
    # The sink refused the throttled domain for its window: nothing got through then.
    assert data["throttle"]["gmail.com"]["accepted_while_throttled"] == 0
