"""A batch of inbound messages: how many a path holds, progress while they go, outcome counts."""

from __future__ import annotations

import mailbox
from collections import Counter
from pathlib import Path
from typing import Final, TextIO

__all__ = ["OUTCOMES", "Progress", "Tally", "count_messages"]

#: What became of each report (and of each message that was no report), in summary order.
OUTCOMES: Final = (
    "bounced",
    "delivered",
    "deferred",
    "recorded",
    "complaint",
    "unmatched",
    "forged",
    "skipped",
    "not a bounce",
)
_FROM_LINE: Final = b"\nFrom "
_CHUNK: Final = 1 << 20
BAR_WIDTH: Final = 30


def count_messages(path: str) -> int | None:
    """How many messages ``read_messages(path)`` yields (a .eml, a folder of them, a
    Maildir, an mbox, ``-``), counted without parsing them; None when it cannot tell."""
    if path == "-":
        return 1
    try:
        p = Path(path)
        if p.is_dir():
            if (p / "cur").is_dir() and (p / "new").is_dir():
                return len(mailbox.Maildir(str(p), factory=None, create=False))
            return sum(
                _count_file(child)
                for child in sorted(p.iterdir())
                if child.is_file() and not child.name.startswith(".")
            )
        return _count_file(p)
    except OSError:
        return None


def _count_file(path: Path) -> int:
    """1 for a message file; for an mbox, its "From " lines, as mailbox.mbox splits it."""
    with path.open("rb") as fh:
        head = fh.read(5)
        if head != b"From ":
            return 1
        count, tail = 1, head
        while chunk := fh.read(_CHUNK):
            # The tail is shorter than the marker: an occurrence is counted in one buffer only.
            count += (tail + chunk).count(_FROM_LINE)
            tail = chunk[-(len(_FROM_LINE) - 1) :]
        return count


class Progress:
    """Progress on a stream: a bar redrawn in place on a terminal, else a plain line every
    ``every`` messages (none at all when every is 0)."""

    def __init__(self, stream: TextIO, total: int | None, *, bar: bool, every: int) -> None:
        self.stream = stream
        self.total = total
        self.bar = bar
        self.every = every
        self.done = 0
        self._drawn: tuple[int, int] | None = None  # what the bar shows: (step, done)
        self._visible = False

    def update(self, done: int) -> None:
        self.done = done
        if self.bar:
            step = done * 100 // self.total if self.total else done // max(self.every, 1)
            if self._drawn is None or self._drawn[0] != step:
                self.draw()
        elif self.every and done % self.every == 0:
            of = f"/{self.total}" if self.total is not None else ""
            self.stream.write(f"{done}{of} messages\n")
            self.stream.flush()

    def draw(self) -> None:
        """Draw the bar as it stands (a terminal only)."""
        if not self.bar:
            return
        done, total = self.done, self.total
        if total:
            filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
            line = f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"
        else:
            line = f"\r{done} messages"
        self.stream.write(line)
        self.stream.flush()
        step = done * 100 // total if total else done // max(self.every, 1)
        self._drawn = (step, done)
        self._visible = True

    def clear(self) -> None:
        """Take the bar off its line, so that other output can be written there."""
        if self._visible:
            self.stream.write("\r" + " " * (BAR_WIDTH + 30) + "\r")
            self.stream.flush()
            self._visible = False
            self._drawn = None

    def finish(self) -> None:
        """End the bar's line (after drawing it complete), so the summary starts afresh."""
        if self.bar and self.done:
            if self._drawn is None or self._drawn[1] != self.done:
                self.draw()
            self.stream.write("\n")
            self.stream.flush()
            self._visible = False


class Tally:
    """Outcome counts of a batch: one per report, and "not a bounce" per other message."""

    def __init__(self) -> None:
        self.messages = 0
        self.reports = 0
        self.counts: Counter[str] = Counter()

    def add(self, outcome: str) -> None:
        self.reports += outcome != "not a bounce"
        self.counts[outcome] += 1

    def summary(self, seconds: float) -> str:
        """One line: messages, reports, time and rate, then every outcome's count."""
        known = [f"{self.counts[o]} {o}" for o in OUTCOMES]
        others = [f"{n} {o}" for o, n in sorted(self.counts.items()) if o not in OUTCOMES]
        rate = f", {self.messages / seconds:.0f} messages/s" if seconds > 0 else ""
        return (
            f"{self.messages} message(s), {self.reports} report(s) in {seconds:.1f} s{rate}: "
            + ", ".join(known + others)
        )
