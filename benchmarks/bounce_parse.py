"""Bounce throughput over the sample corpora.

``python -m benchmarks.bounce_parse [ROUNDS]``: parse_bytes over every sample, ROUNDS times.
``python -m benchmarks.bounce_parse --ingest [--messages N] [--dir D]``: ``bounces ingest`` of
an mbox of N messages (10,000: the samples over and over), in-process on an in-memory store.
None is tied to a notice, so each is kept as a file: on a RAM disk unless --dir says where.
"""

from __future__ import annotations

import argparse
import io
import mailbox
import os
import sys
import tempfile
import time
from contextlib import redirect_stderr
from pathlib import Path

from worker.bounces.parse import parse_bytes

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "bounces"


def samples() -> list[bytes]:
    return [p.read_bytes() for p in sorted(DATA.rglob("*")) if p.suffix in (".eml", ".txt")]


def parse_rate(rounds: int) -> None:
    corpus = samples()
    start = time.perf_counter()
    for _ in range(rounds):
        for data in corpus:
            parse_bytes(data)
    elapsed = time.perf_counter() - start
    count = rounds * len(corpus)
    print(f"{count} messages in {elapsed:.2f} s: {count / elapsed:.0f} messages/s")


def build_mbox(path: Path, count: int) -> None:
    """An mbox of count messages: the samples in order, over and over."""
    corpus = samples()
    box = mailbox.mbox(str(path), create=True)
    try:
        box.lock()
        for n in range(count):
            box.add(corpus[n % len(corpus)])
        box.flush()
    finally:
        box.unlock()
        box.close()


def scratch_dir() -> str | None:
    """Where the mbox and the copies of unmatched bounces go: a RAM disk when there is one,
    so that the figure is the processing's, not the disk's (each copy is a file)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def ingest_rate(count: int, where: str | None) -> None:
    """``bounces ingest`` as an operator runs it (--quiet), against REDIS_URL=memory://."""
    from worker import settings
    from worker.cli import main

    with tempfile.TemporaryDirectory(prefix="bounce-ingest-", dir=where) as tmp:
        box = Path(tmp) / "bounces.mbox"
        build_mbox(box, count)
        saved = {k: os.environ.get(k) for k in ("REDIS_URL", "SECRET_KEY", "CAPTURE_DIR")}
        os.environ.update(
            REDIS_URL="memory://",
            SECRET_KEY=os.environ.get("SECRET_KEY") or "benchmark-" + "0" * 32,
            CAPTURE_DIR=str(Path(tmp) / "var" / "captured"),  # unmatched copies go beside it
        )
        settings.configure(None)
        err = io.StringIO()
        try:
            start = time.perf_counter()
            with redirect_stderr(err):
                code = main(["bounces", "ingest", str(box), "--quiet", "--every", "0"])
            elapsed = time.perf_counter() - start
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            settings.configure(None)
    summary = err.getvalue().strip().splitlines()[-1:] or ["(no summary)"]
    print(f"ingest exit {code} (in {where or tempfile.gettempdir()}): {summary[0]}")
    print(f"{count} messages ingested in {elapsed:.2f} s: {count / elapsed:.0f} messages/s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bounce_parse")
    parser.add_argument("rounds", nargs="?", type=int, default=5, help="parse: corpus rounds")
    parser.add_argument("--ingest", action="store_true", help="time bounces ingest instead")
    parser.add_argument("--messages", type=int, default=10_000, help="ingest: mbox size")
    parser.add_argument("--dir", help="ingest: scratch folder (default: /dev/shm if any)")
    args = parser.parse_args(argv[1:])
    if args.ingest:
        ingest_rate(args.messages, args.dir or scratch_dir())
    else:
        parse_rate(args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
