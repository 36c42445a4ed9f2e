"""Bounce parser throughput over the sample corpora: python -m benchmarks.bounce_parse [N]."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from worker.bounces.parse import parse_bytes

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "bounces"


def main(argv: list[str]) -> int:
    rounds = int(argv[1]) if len(argv) > 1 else 5
    samples = [p.read_bytes() for p in sorted(DATA.rglob("*")) if p.suffix in (".eml", ".txt")]
    start = time.perf_counter()
    for _ in range(rounds):
        for data in samples:
            parse_bytes(data)
    elapsed = time.perf_counter() - start
    count = rounds * len(samples)
    print(f"{count} messages in {elapsed:.2f} s: {count / elapsed:.0f} messages/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
