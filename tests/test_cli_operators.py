"""What an operator meets on the command line: replays after a suppression is lifted, what
`notices show` says of a notice being sent, manual suppressions and their log, the JSON of
dead letters, what `publish` and `render` say. Real Redis, the CLI as a real process."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.events import ROOT, SECRET, make_event
from tests.support.processes import TEST_REDIS_URL, run_cli, show, worker_env
from worker.notices.pipeline import Pipeline
from worker.notices.record import notice_id_for
from worker.notices.status import Status
from worker.settings import Settings, from_env


@pytest.fixture
def env() -> dict[str, str]:
    return worker_env("smtp://127.0.0.1:9")


@pytest.fixture
def pipe(real_redis: redis.Redis) -> Pipeline:
    config: Settings = from_env(
        {"SECRET_KEY": SECRET, "REDIS_URL": TEST_REDIS_URL, "ALLOW_VOLATILE_REDIS": "true"}
    )
    return Pipeline(config, real_redis)


def _bounced(pipe: Pipeline, event_id: str, bounce: dict[str, Any]) -> str:
    intake = pipe.accept(make_event(event_id=event_id, admin_email=f"{event_id}@example.com"))
    assert intake.notice_id
    outcome, _ = pipe.tracker.transition(
        intake.notice_id,
        Status.BOUNCED,
        "550 5.1.1 no such user",
        fields={"bounce": json.dumps(bounce), "last_error": "550 5.1.1 no such user"},
        unschedule=True,
    )
    assert outcome == "ok"
    return intake.notice_id


def test_cli_replay_allowed_to_an_address_taken_off_the_suppression_list(
    pipe: Pipeline, env: dict[str, str]
) -> None:
    pipe.suppressions.add(
        "fixed@example.com", notice_id=None, reason="userunknown", status="5.1.1", kind="hard"
    )
    notice = pipe.accept(make_event(event_id="evt-s", admin_email="fixed@example.com"))
    assert notice.status == Status.SUPPRESSED
    before = run_cli("replay", "evt-s", "--to", "fixed@example.com", env=env)
    assert "0 replayed" in before.stdout or "nothing to replay" in before.stdout
    removed = run_cli("suppressions", "remove", "fixed@example.com", "--reason", "fixed", env=env)
    assert removed.returncode == 0, removed.stderr
    after = run_cli("replay", "evt-s", "--to", "fixed@example.com", "--by", "oncall", env=env)
    assert after.returncode == 0, after.stderr
    assert "1 replayed" in after.stdout
    assert show("evt-s", env)["status"] == "queued"


def test_cli_replay_still_refused_to_a_suppressed_address_without_a_lift(
    pipe: Pipeline, env: dict[str, str]
) -> None:
    _bounced(pipe, "evt-b", {"kind": "hard", "reason": "userunknown", "reported_at": 1.0})
    refused = run_cli("replay", "evt-b", env=env)
    assert refused.returncode == 1
    assert "corrected address" in refused.stdout


def test_cli_notices_show_says_the_lease_and_when_it_was_handed(
    pipe: Pipeline, env: dict[str, str]
) -> None:
    intake = pipe.accept(make_event(event_id="evt-l"))
    assert intake.notice_id
    claim = pipe.tracker.claim(intake.notice_id, 300, force=True)
    assert claim.lease_until
    shown = run_cli("notices", "show", "evt-l", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "lease expires at 20" in shown.stdout and "then it is retried" in shown.stdout
    data = show("evt-l", env)
    assert data["lease_until"].endswith("Z") and data["handed_at"].endswith("Z")
    assert "None" not in shown.stdout and "last_error: -" in shown.stdout


def test_cli_notices_show_next_attempt_at_as_rfc3339(pipe: Pipeline, env: dict[str, str]) -> None:
    intake = pipe.accept(make_event(event_id="evt-d"))
    assert intake.notice_id
    when = time.time() + 600
    pipe.tracker.transition(
        intake.notice_id,
        Status.DEFERRED,
        "421 try later",
        fields={"next_attempt_at": repr(when), "last_error": "421 try later"},
        schedule_at=when,
    )
    data = show("evt-d", env)
    assert data["next_attempt_at"].startswith("20") and data["next_attempt_at"].endswith("Z")
    assert "next_attempt_at: 20" in run_cli("notices", "show", "evt-d", env=env).stdout


def test_cli_notices_show_rcpt_refusal_time_as_rfc3339_and_no_none(
    pipe: Pipeline, env: dict[str, str]
) -> None:
    # A record kept before RCPT refusals were written as RFC 3339: an epoch.
    _bounced(pipe, "evt-e", {"kind": "hard", "reason": "userunknown", "reported_at": 1.7e9})
    data = show("evt-e", env)
    assert data["bounce"]["reported_at"] == "2023-11-14T22:13:20.000Z"
    text = run_cli("notices", "show", "evt-e", env=env).stdout
    assert "None" not in text


def test_cli_replayed_notice_shows_no_old_bounce(pipe: Pipeline, env: dict[str, str]) -> None:
    _bounced(pipe, "evt-r", {"kind": "hard", "reason": "userunknown", "reported_at": "x"})
    done = run_cli("replay", "evt-r", "--to", "new@example.com", env=env)
    assert done.returncode == 0, done.stderr
    data = show("evt-r", env)
    assert data["status"] == "queued" and "bounce" not in data
    assert any(h["status"] == "bounced" for h in data["history"])  # kept in the history


def test_cli_dead_list_json_payload_is_an_object(pipe: Pipeline, env: dict[str, str]) -> None:
    pipe.accept(make_event(event_id="evt-x", amount="-1"))
    rows = [
        json.loads(line) for line in run_cli("dead", "list", "--json", env=env).stdout.splitlines()
    ]
    assert rows and rows[0]["payload"]["event_id"] == "evt-x"
    one = json.loads(run_cli("dead", "show", rows[0]["id"], "--json", env=env).stdout)
    assert one["payload"]["amount"] == "-1"


def test_cli_dead_letter_keeps_every_reason(pipe: Pipeline, env: dict[str, str]) -> None:
    pipe.accept(make_event(event_id="evt-m", amount="-1", currency="XXQ", card_last4="12"))
    (row,) = [
        json.loads(line) for line in run_cli("dead", "list", "--json", env=env).stdout.splitlines()
    ]
    for field in ("amount", "currency", "card_last4"):
        assert f"{field}:" in row["reason"]


def test_cli_suppressions_add_and_show_keep_a_log(pipe: Pipeline, env: dict[str, str]) -> None:
    added = run_cli(
        "suppressions",
        "add",
        "Ops@Example.com",
        "--reason",
        "asked by phone",
        "--by",
        "amy",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert pipe.accept(make_event(event_id="evt-o", admin_email="ops@example.com")).status == (
        Status.SUPPRESSED
    )
    again = run_cli("suppressions", "add", "ops@example.com", "--reason", "x", env=env)
    assert again.returncode == 1
    run_cli("suppressions", "remove", "ops@example.com", "--reason", "mailbox ok", env=env)
    shown = json.loads(run_cli("suppressions", "show", "ops@example.com", "--json", env=env).stdout)
    assert shown["suppression"] is None
    assert [(e["action"], e["reason"]) for e in shown["log"]] == [
        ("added", "asked by phone"),
        ("removed", "mailbox ok"),
    ]
    assert shown["log"][0]["by"] == "amy" and shown["log"][0]["at"].endswith("Z")
    text = run_cli("suppressions", "show", "ops@example.com", env=env).stdout
    assert "removed  by" in text and "asked by phone" in text


def test_cli_suppressions_log_records_automatic_changes(pipe: Pipeline) -> None:
    pipe.suppressions.add(
        "gone@example.com", notice_id="n1", reason="userunknown", status="5.1.1", kind="hard"
    )
    (entry,) = pipe.suppressions.log("gone@example.com")
    assert entry["by"] == "bounce" and "userunknown" in entry["reason"]


def test_cli_suppressions_add_refuses_a_bad_address(env: dict[str, str], real_redis: Any) -> None:
    result = run_cli("suppressions", "add", "not an address", "--reason", "x", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_cli_publish_names_invalid_events_by_id_with_every_reason(
    env: dict[str, str], real_redis: Any
) -> None:
    events = [make_event(event_id="evt-bad", amount="-1", currency="XXQ"), {"amount": "1"}]
    result = run_cli("publish", "-", env=env, stdin="\n".join(json.dumps(e) for e in events))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    first = next(line for line in lines if line.startswith("invalid event #0"))
    assert first.startswith("invalid event #0 evt-bad: ")
    assert "amount:" in first and "currency:" in first
    second = next(line for line in lines if line.startswith("invalid event #1"))
    assert second.startswith("invalid event #1: ") and "event_id: is required" in second


@pytest.mark.parametrize("event_id", ["a\tb", " evt-1 ", "evt\u202e1", "a\nb"])
def test_cli_publish_refuses_an_id_it_would_have_to_change(
    event_id: str, env: dict[str, str], real_redis: Any
) -> None:
    result = run_cli("publish", "-", env=env, stdin=json.dumps(make_event(event_id=event_id)))
    assert result.returncode == 1
    assert "event_id:" in result.stderr and "0 queued" in result.stderr


def test_cli_publish_prints_the_notice_id_the_worker_uses(
    env: dict[str, str], real_redis: Any, pipe: Pipeline
) -> None:
    result = run_cli("publish", "-", env=env, stdin=json.dumps(make_event(event_id="a b")))
    assert result.returncode == 0, result.stderr
    assert f"(notice {notice_id_for('a b')})" in result.stdout
    assert pipe.accept(make_event(event_id="a b")).notice_id == notice_id_for("a b")


def test_cli_render_says_which_locale_it_used(env: dict[str, str], tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(make_event()), encoding="utf-8")
    result = run_cli("render", str(event), "--locale", "fr", "--format", "subject", env=env)
    assert result.returncode == 0
    assert result.stderr.strip() == "note: locale 'fr' rendered as en (the locales: en, zh-TW)"
    plain = run_cli("render", str(event), "--locale", "en", "--format", "subject", env=env)
    assert plain.stderr == ""


def test_cli_publish_without_a_file_on_a_terminal_says_it_reads_stdin(
    env: dict[str, str],
) -> None:
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"\x04")  # Ctrl-D: the end of what is typed
        result = subprocess.run(
            [sys.executable, "-m", "worker", "publish"],
            env=env,
            cwd=ROOT,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert (
        result.stderr.splitlines()[0] == "reading from stdin (end it with Ctrl-D), or give a file"
    )
    assert result.returncode == 0


def _everything(client: redis.Redis) -> str:
    """Every key and value of ours in the store, as one text."""
    read = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda k: client.lrange(k, 0, -1),
        "zset": lambda k: client.zrange(k, 0, -1),
        "set": client.smembers,
        "stream": lambda k: client.xrange(k),
    }
    return json.dumps(
        {str(k): str(read[str(client.type(k))](k)) for k in client.scan_iter("pdn:*")},
        ensure_ascii=False,
    )


def test_cli_notices_forget_erases_one_address_after_a_dry_run(
    pipe: Pipeline, env: dict[str, str], real_redis: redis.Redis
) -> None:
    gone = make_event(event_id="evt-f", admin_email="Gone@Example.com", admin_name="Gone Person")
    sent = pipe.accept(gone)
    assert sent.notice_id
    pipe.tracker.transition(sent.notice_id, Status.SENT, "250 ok for gone@example.com")
    waiting = pipe.accept(make_event(event_id="evt-f2", admin_email="gone@example.com"))
    kept = pipe.accept(make_event(event_id="evt-k", admin_email="jimgone@example.com"))
    pipe.suppressions.add("gone@example.com", notice_id=None, reason="x", status=None, kind="hard")
    # An open "admin unreachable" episode: a key named by the address.
    pipe.outbound.unreachable(sent.notice_id, "sent", "userunknown")
    pipe.accept(make_event(event_id="evt-fd", admin_email="gone@example.com", amount="-1"))
    before = real_redis.zcard("pdn:idx:all")

    dry = run_cli("notices", "forget", "gone@example.com", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: would erase 2 notice(s) (1 not sent yet" in dry.stdout
    assert show("evt-f", env)["to"] == "Gone@example.com"

    done = run_cli("notices", "forget", "GONE@example.com", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "gone@" not in done.stderr.lower()  # the log line does not say whom
    everything = _everything(real_redis).lower()
    assert "gone@example.com" not in everything.replace("jimgone@example.com", "")
    assert "gone person" not in everything
    assert real_redis.zcard("pdn:idx:all") == before  # the counts stay
    assert show("evt-f", env)["to"] == "(erased)"
    assert show("evt-f2", env)["status"] == "failed"  # nobody to send it to any more
    assert show("evt-k", env)["to"] == "jimgone@example.com"
    assert kept.notice_id and waiting.notice_id
    assert run_cli("dead", "list", "--json", env=env).stdout == ""
    assert pipe.suppressions.get("gone@example.com") is None
