"""Tests for the phrase tables' word gates: a gate may skip a table only where it cannot match."""

from __future__ import annotations

import re
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.bounces import mime
from worker.bounces.mta.base import notice_only
from worker.bounces.parse import parse_bytes
from worker.bounces.phrases import PHRASES, WEAK_PHRASES
from worker.bounces.reasons import Reason
from worker.bounces.reasons_match import normalize, phrase_reason, required_literals

DATA = Path(__file__).resolve().parent / "data" / "bounces"
GATED = [
    (key, pattern, words)
    for key, patterns in PHRASES + WEAK_PHRASES
    for pattern in patterns
    if (words := required_literals(pattern)) is not None
]


UNGATED = [
    (Reason(key), re.compile("|".join(f"(?:{p})" for p in patterns)), strong)
    for table, strong in ((PHRASES, True), (WEAK_PHRASES, False))
    for key, patterns in table
]


def _ungated(text: str) -> tuple[Reason | None, bool]:
    """The tables as plain alternations, in order: what phrase_reason must agree with."""
    clean = normalize(text)
    for reason, pattern, strong in UNGATED:
        if pattern.search(clean):
            return reason, strong
    return None, False


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"user ?unknown", ("unknown",)),
        (r"^procmail:|\bprocmail: ", ("procmail:", "procmail: ")),
        (r"hosts? with(?:out)? (?:a )?(?:valid )?reverse", ("reverse",)),
        (r"a{2,3}bcd", ("bcd",)),
        (r"\bvirus(es)?\b", ("virus",)),
        (r"[abc]def|ghi\.jk", ("def", "ghi.jk")),
        (r"mailbox unavailable \(-?\d+:\d+:-?\d+\)", ("mailbox unavailable (",)),
        (r"(?<!not )found(?=x)", ("found",)),
        (r"(mailbox|user) (is )?(suspended|disabled)", ("suspended", "disabled")),
        (r"\bip( address)? .*(is )?(blocked|banned)", ("blocked", "banned")),
        (r"(?:abc)*d", None),
        (r"\bts[s]?0\d\b", None),
        (r"ab|cdef", None),
    ],
)
def test_required_literals_reads_the_words_a_pattern_needs(
    pattern: str, words: tuple[str, ...] | None
) -> None:
    assert required_literals(pattern) == words


def test_required_literals_gates_nearly_every_phrase() -> None:
    total = sum(len(patterns) for _key, patterns in PHRASES + WEAK_PHRASES)
    assert len(GATED) >= total - 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_of_a_gated_phrase_contains_one_of_its_words(data: st.DataObject) -> None:
    _key, pattern, words = data.draw(st.sampled_from(GATED))
    text = data.draw(st.from_regex(re.compile(pattern), fullmatch=True))
    assert any(word in text for word in words), (pattern, words, text)


def test_phrase_reason_agrees_with_the_ungated_tables_on_the_corpus() -> None:
    # Every distinct line of every sample's notice (not the returned copy), and every
    # diagnostic the parser reads from them.
    texts: set[str] = set()
    for path in sorted(DATA.rglob("*")):
        if path.suffix in (".eml", ".txt"):
            data = path.read_bytes()
            msg = BytesParser(policy=compat32).parsebytes(data)
            parts = mime.split_parts(msg)[0]
            texts.update(notice_only(mime.notification_text(parts)).splitlines())
            texts.update(r.diagnostic or "" for r in parse_bytes(data).reports)
    disagree = [t for t in sorted(texts) if t.strip() and phrase_reason(t) != _ungated(t)]
    assert disagree == []
