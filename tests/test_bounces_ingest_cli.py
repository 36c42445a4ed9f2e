"""``bounces ingest`` at volume: counting a batch, its progress on stderr, the outcome counts."""

from __future__ import annotations

import mailbox
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bounces import make_dsn
from tests.support.events import DATA, SECRET, make_event
from worker import cli, settings
from worker.bounces.batch import BAR_WIDTH, OUTCOMES, Progress, Tally, count_messages
from worker.bounces.ingest import read_messages
from worker.cli.output import pipeline
from worker.smtp.proof import envelope_sender
from worker.smtp.server import ServerThread

SUMMARY = re.compile(
    r"^(\d+) message\(s\), (\d+) report\(s\) in [\d.]+ s(?:, \d+ messages/s)?: (.*)$", re.M
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("REDIS_URL", "memory://")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("CAPTURE_DIR", str(tmp_path / "var" / "captured"))
    settings.configure(None)
    yield
    settings.configure(None)


def _complaint(to: str, recipient: str) -> bytes:
    return (
        f"From: fbl@isp.example.net\r\nTo: {to}\r\nSubject: Abuse report\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report;"
        ' boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n'
        "--B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
        f"Version: 1\r\nOriginal-Rcpt-To: {recipient}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: billing@example.com\r\n"
        f"To: {recipient}\r\nSubject: notice\r\n\r\n--B--\r\n"
    ).encode()


@pytest.fixture
def batch(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: ServerThread
) -> Path:
    """A folder of eight messages, one per outcome."""
    monkeypatch.setenv("SMTP_URL", smtp_server.url)
    settings.configure(None)
    pipe = pipeline()
    config = pipe.settings
    run = uuid.uuid4().hex[:8]  # the memory store outlives a test: fresh events each time
    ids = [
        pipe.accept(
            make_event(event_id=f"evt-{run}-{n}", admin_email=f"u{n}@example.net")
        ).notice_id
        or ""
        for n in range(4)
    ]
    # Handed to a relay whose 250 was never recorded: a success report for it is believed.
    assert pipe.tracker.claim(ids[1], 0.01).outcome == "ok"
    sent = pipe.handle_event(make_event(event_id=f"evt-{run}-s", admin_email="s@example.net"))
    assert sent.status == "sent"
    ids.append(sent.notice_id or "")
    to = [envelope_sender(nid, config) for nid in ids]
    forged = to[3][: -len("@example.com")][:-4] + "0000@example.com"
    messages = {
        "1-bounced.eml": make_dsn(to=to[0], recipient="u0@example.net"),
        "2-delivered.eml": make_dsn(
            to=to[1], recipient="u1@example.net", action="delivered", status="2.0.0", diagnostic=""
        ),
        "3-deferred.eml": make_dsn(
            to=to[4], recipient="s@example.net", action="delayed", status="4.4.7", diagnostic=""
        ),
        "3-recorded.eml": make_dsn(  # a delay for a notice not yet sent is only noted
            to=to[2], recipient="u2@example.net", action="delayed", status="4.4.7", diagnostic=""
        ),
        "4-forged.eml": make_dsn(to=forged, recipient="u3@example.net"),
        "5-unmatched.eml": make_dsn(to="postmaster@example.com", recipient="x@example.org"),
        "6-complaint.eml": _complaint(to[3], "u3@example.net"),
        "7-not-a-bounce.eml": (DATA / "bounces" / "out_of_office.eml").read_bytes(),
    }
    folder = tmp_path / "batch"
    folder.mkdir()
    for name, data in messages.items():
        (folder / name).write_bytes(data)
    return folder


def _counts(stderr: str) -> dict[str, int]:
    found = SUMMARY.search(stderr)
    assert found, stderr
    pairs = [part.split(" ", 1) for part in found.group(3).split(", ")]
    return {name: int(n) for n, name in pairs}


def test_ingest_prints_a_line_per_report_and_counts_every_outcome(
    batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bounces", "ingest", str(batch), "--every", "3"]) == 0
    out, err = capsys.readouterr()
    effects = [line.rsplit("→ ", 1)[1].split(" ")[0] for line in out.splitlines()]
    assert effects[:6] == ["bounced", "delivered", "deferred", "recorded", "forged", "unmatched"]
    assert len(effects) == 7  # the complaint has its line too; the auto-reply has none
    assert "3/8 messages\n6/8 messages\n" in err
    assert "\r" not in err
    counts = _counts(err)
    assert list(counts) == list(OUTCOMES)
    assert counts.pop("skipped") == 0 and set(counts.values()) == {1}
    summary = SUMMARY.search(err)
    assert summary and summary.group(1, 2) == ("8", "7")


def test_ingest_quiet_keeps_only_the_summary(
    batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bounces", "ingest", str(batch), "--quiet", "--every", "0"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and _counts(err)["bounced"] == 1


def test_ingest_draws_a_bar_when_stderr_is_a_terminal(
    batch: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["bounces", "ingest", str(batch), "--quiet"]) == 0
    _out, err = capsys.readouterr()
    bar, _, summary = err.rpartition("\n")[0].rpartition("\n")
    assert bar.startswith("\r[#")
    assert bar.endswith(f"\r[{'#' * BAR_WIDTH}] 8/8")
    assert [int(n) for n in re.findall(r"\] (\d+)/8", bar)] == list(range(1, 9))
    assert "messages\n" not in err  # no count lines on a terminal
    assert SUMMARY.search(summary)


def test_ingest_of_nothing_but_auto_replies_reports_none(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "ooo.eml"
    one.write_bytes((DATA / "bounces" / "out_of_office.eml").read_bytes())
    assert cli.main(["bounces", "ingest", str(one)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert _counts(err)["not a bounce"] == 1
    assert sum(_counts(err).values()) == 1


def test_count_messages_counts_what_read_messages_yields(tmp_path: Path) -> None:
    sample = make_dsn(to="x@example.com", recipient="a@example.net")
    tricky = sample.replace(b"Delivery report.", b"Delivery report.\r\nFrom here on, nothing.")
    (tmp_path / "one.eml").write_bytes(sample)
    box = mailbox.mbox(str(tmp_path / "box.mbox"))
    for data in (sample, tricky, sample):
        box.add(data)
    box.close()
    maildir = mailbox.Maildir(str(tmp_path / "md"))
    maildir.add(sample)
    maildir.add(tricky)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.eml").write_bytes(sample)
    (folder / ".hidden").write_bytes(sample)
    (folder / "b.mbox").write_bytes((tmp_path / "box.mbox").read_bytes())
    for path in ("one.eml", "box.mbox", "md", "folder"):
        full = str(tmp_path / path)
        assert count_messages(full) == len(list(read_messages(full))), path
    assert count_messages(str(tmp_path / "missing")) is None
    assert count_messages("-") == 1


def test_count_messages_reads_a_large_mbox_across_chunk_boundaries(tmp_path: Path) -> None:
    sample = make_dsn(to="x@example.com", recipient="a@example.net") * 40  # about 60 kB
    box = mailbox.mbox(str(tmp_path / "big.mbox"))
    for _ in range(40):  # a few MB: several read chunks, markers across their edges
        box.add(sample)
    box.close()
    assert count_messages(str(tmp_path / "big.mbox")) == 40


def test_progress_without_a_total_counts_on() -> None:
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> int:
            lines.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    progress = Progress(Stream(), None, bar=False, every=2)  # type: ignore[arg-type]
    for n in range(1, 6):
        progress.update(n)
    progress.finish()
    assert lines == ["2 messages\n", "4 messages\n"]


def test_tally_summary_lists_every_outcome_and_any_new_one() -> None:
    tally = Tally()
    tally.messages = 3
    for outcome in ("bounced", "bounced", "not a bounce", "resent"):
        tally.add(outcome)
    line = tally.summary(2.0)
    assert line.startswith("3 message(s), 3 report(s) in 2.0 s, 2 messages/s: 2 bounced, ")
    assert line.endswith("0 forged, 0 skipped, 1 not a bounce, 1 resent")
