"""Sequences under a mixed stream: a real Redis, Celery worker and SMTP sink.

A shuffled, tripled and partly delayed stream of failures, repeated failures, payments and
voids. Measured: mails for a sequence after its payment was accepted (must be 0), mails
per step (exactly one), and the time from a payment being accepted to every pending step
of its sequence being ``cancelled``.

    python -m benchmarks.sequences --sequences 3750     # about 10,000 distinct events
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from celery import Celery

from benchmarks.procs import ROOT, Worker, stop_all
from benchmarks.sink import SinkProcess
from benchmarks.throughput import percentile, redis_client, worker_env
from worker.intake import producer

#: Long enough that no reminder is due while the stream is still arriving.
REMINDER_AFTER = 60


def build_stream(n: int, seed: int) -> tuple[list[dict[str, Any]], set[str]]:
    """Per sequence: a failure, a repeated failure and, for two in three, a payment or a
    void; all tripled, shuffled, one in ten held back to the end (delayed)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    closing: set[str] = set()
    for i in range(n):
        base = {
            "subscription_id": f"bsub-{i}",
            "invoice_id": f"binv-{i}",
            "admin_email": f"seq{i}@example.com",
            "amount": "120.00",
            "currency": "USD",
            "payment_method": "credit_card",
            "locale": "en" if i % 2 else "zh-TW",
        }
        events.append({**base, "event_id": f"bf1-{i}", "failed_at": "2026-11-20T08:00:00Z"})
        events.append(
            {**base, "event_id": f"bf2-{i}", "failed_at": "2026-11-22T08:00:00Z", "attempt": 2}
        )
        if i % 3:
            closing.add(f"bp-{i}")
            events.append(
                {
                    "type": "payment_succeeded" if i % 3 == 1 else "invoice_voided",
                    "event_id": f"bp-{i}",
                    "subscription_id": base["subscription_id"],
                    "invoice_id": base["invoice_id"],
                    "occurred_at": "2026-11-23T08:00:00Z",
                }
            )
    stream = [dict(e) for e in events for _ in range(3)]
    rng.shuffle(stream)
    late = [rng.random() < 0.1 for _ in stream]
    on_time = [e for e, held in zip(stream, late, strict=True) if not held]
    return on_time + [e for e, held in zip(stream, late, strict=True) if held], closing


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sequences", description=__doc__)
    p.add_argument("--sequences", type=int, default=3750)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    stream, closing = build_stream(args.sequences, args.seed)
    r = redis_client(args.redis_url)
    r.flushdb()
    sink = SinkProcess(0.0).start()
    env = worker_env(
        argparse.Namespace(redis_url=args.redis_url),  # type: ignore[arg-type]
        sink.url,
        {"REMINDER_SCHEDULE": f"{REMINDER_AFTER}s", "SWEEP_INTERVAL": "0.5"},
    )
    workers = [
        Worker("worker", env, "threads", 8, log_path=ROOT / "var" / f"seq{i}.log", name=f"seq{i}")
        for i in range(2)
    ]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.wait_ready()
        app = Celery(broker=args.redis_url)
        started = time.time()
        with app.producer_or_acquire() as conn:
            for event in stream:
                app.send_task(producer.task_for(event), args=[event], producer=conn)
        published = time.time()
        deadline = time.monotonic() + args.timeout
        # Until the queue is empty and nothing is left to send: every step is sent,
        # cancelled or otherwise settled (a reminder that should not go would have gone).
        while time.monotonic() < deadline and (
            r.llen("celery")
            or r.zcard("pdn:idx:st:scheduled")
            or r.zcard("pdn:idx:st:queued")
            or r.zcard("pdn:idx:st:deferred")
        ):
            time.sleep(1.0)
        time.sleep(2.0)
        figures = measure(r, sink, args.sequences, closing)
        figures.update(
            distinct_events=len({e["event_id"] for e in stream}),
            deliveries=len(stream),
            publish_seconds=round(published - started, 1),
        )
    finally:
        for w in workers:
            w.stop()
        sink.stop()
        stop_all()
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)
    return 0 if figures["mails_after_payment"] == 0 and figures["steps_mailed_twice"] == 0 else 1


def measure(r: Any, sink: SinkProcess, n: int, closing: set[str]) -> dict[str, Any]:
    assert sink.acceptances is not None
    with sink.acceptances.lock:
        mails = dict(sink.acceptances.times)  # Message-ID → acceptance time
    by_notice = Counter(mid.strip("<>").split(".", 1)[0] for mid in mails)
    after_payment = 0
    in_flight = 0
    cancel_latency: list[float] = []
    unpaid_steps = 0
    for i in range(n):
        seq_ids = r.smembers(f"pdn:sub:bsub-{i}")
        for seq in seq_ids:
            history = [json.loads(h) for h in r.lrange(f"pdn:q:{seq}:h", 0, -1)]
            closed = [h for h in history if h["status"] == "closed"]
            steps = r.zrange(f"pdn:q:{seq}:n", 0, -1)
            records = [r.hgetall(f"pdn:n:{s}") for s in steps]
            if not closed:
                unpaid_steps += sum(1 for rec in records if rec.get("status") == "sent")
                continue
            accepted = _epoch(closed[0]["at"])
            confirmed = {rec["id"]: float(rec.get("confirmed_at") or 0) for rec in records}
            for mid, at in mails.items():
                nid = mid.strip("<>").split(".", 1)[0]
                if nid in steps and at > accepted:
                    # Its last check passed before the payment: the documented window.
                    if confirmed.get(nid, 0) and confirmed[nid] <= accepted:
                        in_flight += 1
                    else:
                        after_payment += 1
            for rec in records:
                for entry in (json.loads(h) for h in r.lrange(f"pdn:n:{rec['id']}:h", 0, -1)):
                    if entry["status"] == "cancelled" and entry.get("by") in closing:
                        cancel_latency.append(max(0.0, _epoch(entry["at"]) - accepted))
    return {
        "sequences": n,
        "mails": len(mails),
        "steps_mailed_twice": sum(1 for c in by_notice.values() if c > 1),
        "mails_after_payment": after_payment,
        "mails_in_flight_at_payment": in_flight,
        "unpaid_steps_sent": unpaid_steps,
        "cancelled_steps": len(cancel_latency),
        "cancel_p50_ms": round(percentile(cancel_latency, 0.5) * 1000, 1),
        "cancel_p99_ms": round(percentile(cancel_latency, 0.99) * 1000, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
