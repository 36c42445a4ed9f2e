"""An upgrade keeps working on what an older release wrote to the tracking store."""

from __future__ import annotations

import json
import re
from typing import Any

import fakeredis
import pytest

from tests.support.events import DATA
from tests.support.smtpd import Recorder
from worker.bounces.bounce import Bounce
from worker.bounces.ingest import Unmatched
from worker.notices.deadletters import DeadLetters
from worker.notices.pipeline import Pipeline
from worker.notices.record import public
from worker.notices.suppressions import Suppressions
from worker.settings import Settings
from worker.smtp.server import ServerThread

DUMP = json.loads((DATA / "store" / "written-by-0.1.0.json").read_text(encoding="utf-8"))
EVENT_IDS: dict[str, str] = DUMP["event_ids"]


def load(client: Any) -> None:
    for key, item in DUMP["keys"].items():
        kind, value = item["type"], item["value"]
        if kind == "hash":
            client.hset(key, mapping=value)
        elif kind == "list":
            client.rpush(key, *value)
        elif kind == "string":
            client.set(key, value)
        elif kind == "zset":
            client.zadd(key, {member: score for member, score in value})


@pytest.fixture
def old_store() -> Any:
    client = fakeredis.FakeRedis(decode_responses=True)
    load(client)
    return client


def test_upgrade_reads_every_record_an_older_release_wrote(
    settings: Settings, old_store: Any
) -> None:
    pipeline = Pipeline(settings, old_store)
    statuses = {eid: (pipeline.tracker.find(eid) or {}).get("status") for eid in EVENT_IDS}
    assert statuses == {
        "evt-sent": "sent",
        "evt-rcpt": "bounced",
        "evt-data": "failed",
        "evt-dsn": "bounced",
        "evt-delivered": "delivered",
        "evt-queued": "queued",
    }
    for eid, notice_id in EVENT_IDS.items():
        record = pipeline.tracker.find(eid)
        assert record is not None and record["id"] == notice_id
        shown = public(record, pipeline.tracker.history(notice_id))
        assert shown["event_id"] == eid and shown["history"][0]["status"] == "queued"
        event = pipeline.tracker.event(record)
        assert event["amount"] == "1234.50" and event["custom_field"] == {"a": 1}
    assert pipeline.tracker.counts()["bounced"] == 2


def test_upgrade_reads_old_bounces_including_epoch_times(
    settings: Settings, old_store: Any
) -> None:
    pipeline = Pipeline(settings, old_store)
    refused = pipeline.tracker.find("evt-rcpt") or {}
    bounce = Bounce.loads(refused["bounce"])
    assert bounce.reason == "userunknown" and bounce.kind == "hard" and bounce.code == 550
    # 0.1.0 kept an RCPT refusal's time as a raw epoch; it reads as RFC 3339 now.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", bounce.reported_at)
    by_dsn = Bounce.loads((pipeline.tracker.find("evt-dsn") or {})["bounce"])
    assert by_dsn.status == "5.1.1"


def test_upgrade_reads_old_dead_letters_suppressions_and_unmatched(old_store: Any) -> None:
    [dead] = DeadLetters(old_store).list()
    assert dead["event_id"] == "evt-bad" and dead["field"] == "amount"
    assert {r["address"] for r in Suppressions(old_store).list()} == {
        "gone@example.net",
        "later@example.net",
    }
    [unmatched] = Unmatched(old_store).list()
    assert unmatched["recipient"] == "nobody@example.net"


def test_upgrade_sends_a_notice_an_older_release_queued(
    settings: Settings, old_store: Any, smtp_server: ServerThread, recorder: Recorder
) -> None:
    pipeline = Pipeline(settings.with_(smtp_url=smtp_server.url), old_store)
    notice_id = EVENT_IDS["evt-queued"]
    assert pipeline.deliver(notice_id, force=True) == "ok"
    assert (pipeline.tracker.get(notice_id) or {})["status"] == "sent"
    assert [rcpt for _, rcpt, _ in recorder.messages] == [["wait@example.net"]]


def _shape(key: str) -> str:
    """A key with its ids and addresses replaced, so that two runs compare."""
    key = re.sub(r"[0-9a-f]{20}", "<notice>", key)
    key = re.sub(r"dead:[0-9a-f]{12}", "dead:<id>", key)
    return re.sub(r"[\w.+-]+@[\w.-]+", "<address>", key)


def test_upgrade_key_names_are_those_an_older_release_used() -> None:
    # The key schema is a contract between releases: every kind of key the old release
    # wrote is one today's code knows how to name.
    from worker.notices import keys

    today = {
        _shape(k)
        for k in (
            keys.notice("0" * 20),
            keys.history("0" * 20),
            keys.event("0" * 20),
            keys.address("a@example.net"),
            keys.dead_letter("0" * 12),
            keys.suppression("a@example.net"),
            keys.soft_bounces("a@example.net"),
            keys.SCHED,
            keys.IDX_ALL,
            keys.DEAD,
            keys.SUPPRESSED,
            keys.UNMATCHED,
            *(keys.idx_status(s) for s in ("sent", "bounced", "failed", "delivered", "queued")),
        )
    }
    written = {_shape(k) for k in DUMP["keys"]}
    assert written <= today, written - today
