"""SpamAssassin's opinion of a previewed mail: local rules only, when it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

#: Seconds SpamAssassin may take (it loads its rules on every run).
SPAM_TIMEOUT = 60
_SCORE = re.compile(r"Content analysis details:\s+\((-?[\d.]+) points")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]{2,})\s+(.*)$")


@dataclass(frozen=True)
class SpamReport:
    """A score and the rules that made it, or why there is none."""

    available: bool
    score: float | None = None
    rules: tuple[tuple[float, str, str], ...] = ()
    problem: str = ""


def spam_report(raw: bytes) -> SpamReport:
    """``spamassassin -L -t`` on ``raw``: ``-L`` keeps it to local tests (no DNS, no network)."""
    binary = shutil.which("spamassassin")
    if binary is None:
        return SpamReport(False, problem="SpamAssassin is not installed (no spamassassin on PATH)")
    try:
        result = subprocess.run(  # noqa: S603  (a fixed binary and arguments, the mail on stdin)
            [binary, "-L", "-t"], input=raw, capture_output=True, timeout=SPAM_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return SpamReport(True, problem=f"SpamAssassin took longer than {SPAM_TIMEOUT}s")
    report = result.stdout.decode("utf-8", "replace")
    match = _SCORE.search(report)
    if match is None:
        return SpamReport(
            True, problem=f"SpamAssassin gave no score (exit code {result.returncode})"
        )
    rules = []
    # The table of rules follows its dashed rule line and ends at the first blank line
    # (the mail itself comes after, and must not be read as rules).
    started = False
    for line in report[match.end() :].splitlines():
        if not started:
            started = line.startswith("----")
            continue
        if not line.strip():
            break
        found = _RULE.match(line)
        if found:
            rules.append((float(found[1]), found[2], found[3].strip()))
    return SpamReport(True, float(match[1]), tuple(rules))
