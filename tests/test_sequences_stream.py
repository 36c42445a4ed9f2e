"""A shuffled, tripled stream of mixed events: no mail after a payment, one mail per step.

Through the pipeline on fakeredis and a real SMTP server on loopback.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from tests.support.events import make_event
from tests.support.sequences import make_payment
from tests.support.smtpd import Recorder
from worker.intake.kinds import EventType, event_type
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.server import ServerThread

SEQUENCES = 30
DAY = 86400.0


def _stream(rng: random.Random) -> tuple[list[dict[str, Any]], set[int]]:
    events: list[dict[str, Any]] = []
    settled: set[int] = set()
    for i in range(SEQUENCES):
        sub, inv, to = f"sub-s{i}", f"in-{i}", f"s{i}@example.com"
        base = {"subscription_id": sub, "invoice_id": inv, "admin_email": to}
        events.append(make_event(event_id=f"f1-{i}", failed_at="2026-11-20T08:00:00Z", **base))
        events.append(
            make_event(event_id=f"f2-{i}", failed_at="2026-11-22T08:00:00Z", attempt=2, **base)
        )
        if i % 3:  # two thirds are paid or voided, one third stays unpaid
            settled.add(i)
            kind = "payment_succeeded" if i % 3 == 1 else "invoice_voided"
            events.append(
                make_payment(
                    type=kind,
                    event_id=f"p-{i}",
                    subscription_id=sub,
                    invoice_id=inv,
                    occurred_at="2026-11-23T08:00:00Z",
                )
            )
    tripled = events * 3
    rng.shuffle(tripled)
    return tripled, settled


def test_sequence_stream_sends_nothing_after_payment_and_one_mail_per_step(
    settings: Settings, fake_redis: Any, smtp_server: ServerThread, recorder: Recorder
) -> None:
    pipeline = Pipeline(
        settings.with_(smtp_url=smtp_server.url, reminder_schedule=(3 * DAY, 7 * DAY)),
        fake_redis,
    )
    stream, settled = _stream(random.Random(15))
    mails_at_payment: dict[str, int] = {}

    def mails_to(address: str) -> int:
        return sum(1 for _, rcpts, _ in recorder.messages if rcpts == [address])

    for payload in stream:
        kind = event_type(payload)
        pipeline.handle(payload, kind)
        if kind is not EventType.CHARGE_FAILED:
            to = f"s{payload['event_id'].removeprefix('p-')}@example.com"
            mails_at_payment.setdefault(to, mails_to(to))
    # Every remaining step comes due (as the sweeper would hand them out later).
    for i in range(SEQUENCES):
        for seq in pipeline.sequences.of_subscription(f"sub-s{i}"):
            for step_id in pipeline.sequences.step_ids(seq):
                pipeline.deliver(step_id, force=True)
    ids = [
        line.split(b":", 1)[1].strip()
        for _, _, raw in recorder.messages
        for line in raw.split(b"\r\n")
        if line.lower().startswith(b"message-id:")
    ]
    assert len(ids) == len(set(ids)), "a step was mailed twice"
    per_address = Counter(rcpts[0] for _, rcpts, _ in recorder.messages)
    for i in range(SEQUENCES):
        to = f"s{i}@example.com"
        if i in settled:
            assert per_address[to] == mails_at_payment[to] <= 1, to
        else:
            assert per_address[to] == 3, to  # first notice and two reminders
    counts = pipeline.tracker.counts()
    assert counts["scheduled"] == 0 and counts["queued"] == 0
