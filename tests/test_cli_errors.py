"""Every verb given wrong arguments or input: one line on stderr, README's exit code, no
traceback. The command line runs as a real process against the suite's real Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import ROOT, make_event
from tests.support.processes import run_cli, worker_env
from worker.notices.deadletters import DeadLetters

#: Where nothing listens: a store that cannot be reached.
NOWHERE = "redis://127.0.0.1:9/0"

# (arguments, exit code, a phrase of the line, how many lines; publish adds its summary)
CASES: dict[str, tuple[list[str], int, str, int]] = {
    "unknown-verb": (["bogus"], 2, "invalid choice: 'bogus'", 1),
    "verb-missing": (["notices"], 2, "required: verb", 1),
    "publish-missing-file": (["publish", "{missing}"], 2, "cannot read {missing}", 1),
    "render-missing-file": (["render", "{missing}"], 2, "cannot read {missing}", 1),
    "render-a-folder": (["render", "{tmp}"], 2, "is a directory", 1),
    "dev-missing-file": (["dev", "{missing}"], 2, "cannot read {missing}", 1),
    "dev-wait-0": (["dev", "--sample", "--wait", "0"], 2, "above 0", 1),
    "dev-wait-word": (["dev", "--wait", "soon"], 2, "not a number of seconds", 1),
    "requeue-missing-file": (
        ["dead", "requeue", "dl-1", "--from-file", "{missing}"],
        2,
        "cannot read {missing}",
        1,
    ),
    "dead-show-unknown": (["dead", "show", "dl-none"], 1, "no dead letter", 1),
    "bounces-parse-missing": (["bounces", "parse", "{missing}"], 2, "cannot read", 1),
    "bounces-ingest-missing": (["bounces", "ingest", "{missing}"], 2, "cannot read", 1),
    "bounces-serve-busy": (["bounces", "serve", "--port", "{busy}"], 2, "in use", 1),
    "bounces-serve-port": (["bounces", "serve", "--port", "70000"], 2, "1-65535", 1),
    "web-busy": (["web", "--port", "{busy}"], 2, "in use", 1),
    "web-port-99999": (["web", "--port", "99999"], 2, "1-65535", 1),
    "replay-since-yesterday": (["replay", "--since", "yesterday"], 2, "not an ISO 8601", 1),
    "replay-until-month-13": (["replay", "--until", "2026-13-01"], 2, "not an ISO 8601", 1),
    "replay-bad-address": (["replay", "evt-x", "--to", "bad address"], 2, "--to", 1),
    "replay-unknown-id": (["replay", "evt-none", "--to", "a@example.com"], 1, "not found", 1),
    "notices-status-bogus": (
        ["notices", "list", "--status", "bogus"],
        2,
        "one of queued, sent, deferred, delivered, bounced, failed, suppressed",
        1,
    ),
    "notices-limit-word": (["notices", "list", "--limit", "many"], 2, "invalid int", 1),
    "notices-show-unknown": (["notices", "show", "evt-none"], 1, "no notice", 1),
    "suppressions-remove-unknown": (
        ["suppressions", "remove", "nobody@example.com"],
        1,
        "not on the suppression list",
        1,
    ),
    "suppressions-add-bad-address": (
        ["suppressions", "add", "not an address", "--reason", "x"],
        2,
        "not a single address",
        1,
    ),
    "suppressions-add-no-reason": (["suppressions", "add", "a@example.com"], 2, "--reason", 1),
    "suppressions-show-unknown": (["suppressions", "show", "a@example.com"], 1, "never was", 1),
    "forget-bad-address": (["notices", "forget", "nobody"], 2, "not a single address", 1),
    "publish-path-under-a-file": (["publish", "{invalid}/x"], 2, "not a directory", 1),
    "requeue-broker-away": (
        ["dead", "requeue", "{dead}", "--env=BROKER_URL=redis://127.0.0.1:9/0"],
        3,
        "the broker at redis://127.0.0.1:9/0 is not reachable",
        1,
    ),
    "store-unreachable": (["notices", "list", "--redis={nowhere}"], 3, "not reachable", 1),
    "configuration-wrong": (["notices", "list", "--env=SEND_RETRY_DELAYS=soon"], 2, "", 1),
    "render-invalid-event": (["render", "{invalid}"], 1, "invalid event: amount", 1),
    "publish-not-utf8": (["publish", "{not_utf8}"], 1, "#0: line 1 is not UTF-8", 2),
    "publish-nested": (["publish", "{nested}"], 1, "#0: line 1 is not valid JSON (nested", 2),
    "publish-long-number": (["publish", "{long_number}"], 1, "#0: line 1 is not valid JSON", 2),
}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _files(tmp: Path) -> dict[str, str]:
    (tmp / "not-utf8.json").write_bytes(b'\xff\xfe{"event_id": "e"}\n')
    (tmp / "nested.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (tmp / "long.json").write_text('{"event_id": "e", "amount": ' + "9" * 5000 + "}")
    (tmp / "invalid.json").write_text(json.dumps(make_event(amount="-1")), encoding="utf-8")
    return {
        "tmp": str(tmp),
        "missing": str(tmp / "missing.json"),
        "not_utf8": str(tmp / "not-utf8.json"),
        "nested": str(tmp / "nested.json"),
        "long_number": str(tmp / "long.json"),
        "invalid": str(tmp / "invalid.json"),
        "nowhere": NOWHERE,
    }


def _problems(stderr: str) -> list[str]:
    # The suite's Redis keeps nothing on disk: every store command warns once about it.
    return [
        line
        for line in stderr.splitlines()
        if line.strip()
        and not line.endswith("(allowed by ALLOW_VOLATILE_REDIS)")
        and '"level": "warning"' not in line
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_wrong_arguments_one_line_and_exit_code(
    case: str, real_redis: Any, tmp_path: Path, busy_port: int
) -> None:
    argv, code, phrase, lines = CASES[case]
    dead = DeadLetters(real_redis).add(make_event(event_id="evt-dl"), "amount: test")
    values = {**_files(tmp_path), "busy": str(busy_port), "dead": dead}
    env = worker_env("smtp://127.0.0.1:9")
    args: list[str] = []
    for arg in argv:
        arg = arg.format(**values)
        if arg.startswith("--redis="):
            env["REDIS_URL"] = arg.removeprefix("--redis=")
        elif arg.startswith("--env="):
            name, _, value = arg.removeprefix("--env=").partition("=")
            env[name] = value
        else:
            args.append(arg)
    result = run_cli(*args, env=env, stdin="", timeout=60)
    problems = _problems(result.stderr)
    assert "Traceback" not in result.stderr
    assert len(problems) == lines, result.stderr
    assert phrase.format(**values) in problems[0]
    assert result.returncode == code, result.stderr


def test_cli_reader_gone_away_is_silent(tmp_path: Path) -> None:
    """``… | head``: the reader closed the pipe; nothing on stderr, exit code 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write the command makes now fails (EPIPE)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(make_event()), encoding="utf-8")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "worker", "render", str(event), "--format", "html"],
            env=worker_env("smtp://127.0.0.1:9"),
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141
