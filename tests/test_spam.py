"""Every notice, as sent, scored by SpamAssassin's local rules: it must look like mail."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from tests.support.events import ROOT
from worker.intake.events import parse_event
from worker.render import samples
from worker.render.message import message_bytes
from worker.render.renderer import Renderer
from worker.settings import Settings

CASES = json.loads((ROOT / "samples" / "cases.json").read_text(encoding="utf-8"))
#: Far below SpamAssassin's 5.0: a billing notice has no business collecting points.
MAX_SCORE = 0.5

pytestmark = pytest.mark.skipif(
    shutil.which("spamassassin") is None and not os.environ.get("CI"),
    reason="spamassassin is not installed (CI installs it)",
)


def _score(raw: bytes) -> tuple[float, str]:
    # -L: local tests only (no DNS blocklists, no network), as reproducible as it gets.
    result = subprocess.run(
        ["spamassassin", "-L", "-t"], input=raw, capture_output=True, timeout=120, check=True
    )
    report = result.stdout.decode(errors="replace")
    match = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
    assert match, report[-2000:]
    return float(match.group(1)), report[report.index("Content analysis details") :]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("locale", ["zh_TW", "en"])
def test_spam_notice_scores_low(settings: Settings, case: str, locale: str) -> None:
    event = parse_event({**CASES[case], "event_id": f"spam-{case}"})
    rendered = Renderer(settings).render(event, locale)
    raw = message_bytes(
        rendered, to=event.admin_email, notice_id="0" * 20, generation=0, settings=settings
    )
    score, report = _score(raw)
    assert score <= MAX_SCORE, report


@pytest.mark.parametrize("case", sorted(samples.step_cases()))
@pytest.mark.parametrize("locale", ["zh_TW", "en"])
def test_spam_step_notice_scores_low(settings: Settings, case: str, locale: str) -> None:
    payload, step = samples.step_cases()[case]
    event = parse_event({**payload, "event_id": f"spam-{case}"})
    rendered = Renderer(settings).render(event, locale, step)
    raw = message_bytes(
        rendered, to=event.admin_email, notice_id="0" * 20, generation=0, settings=settings
    )
    score, report = _score(raw)
    assert score <= MAX_SCORE, report
