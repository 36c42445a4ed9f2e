"""Agreement of the bounce parser with real-world reports: the Sisimai and flufl.bounce samples."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from itertools import permutations
from pathlib import Path
from typing import Final

import pytest

from worker.bounces.parse import Parsed, Report, parse_bytes

DATA: Final = Path(__file__).resolve().parent / "data" / "bounces"
SISIMAI: Final = DATA / "sisimai"
FLUFL: Final = DATA / "flufl"
_SUCCESS: Final = frozenset({"delivered", "relayed", "expanded"})
_NOT_FAILURES: Final = frozenset({"delivered", "vacation"})

# Targets of issue 12: (measure, lowest acceptable share) or, for the last two, highest.
TARGETS: Final[dict[str, float]] = {
    "recipient found": 0.97,
    "status agrees": 0.92,
    "reason agrees": 0.85,
    "address failures hard": 0.95,
    "no bad address, hard": 0.02,
    "success read as delivered": 1.0,
}
_AT_MOST: Final = frozenset({"no bad address, hard"})


@dataclass(frozen=True, slots=True)
class Expected:
    """One recipient of a Sisimai sample as the reference reads it."""

    status: str
    reply_code: str
    reason: str
    hard: bool

    @property
    def scored_status(self) -> bool:
        """Codes with a third field of 900+ are the reference's own derivations: not scored."""
        return bool(self.status) and int(self.status.split(".")[2]) < 900


def _load_expected() -> dict[str, tuple[Expected, ...]]:
    table: dict[str, tuple[Expected, ...]] = {}
    for line in (SISIMAI / "expected.jsonl").read_text().splitlines():
        row = json.loads(line)
        table[row["file"]] = tuple(Expected(**e) for e in row["expected"])
    return table


EXPECTED: Final = _load_expected()


def family(name: str) -> str:
    """ "lhost-postfix-07.eml" → "lhost-postfix": the mail system that wrote the sample."""
    return name.rsplit("-", 1)[0]


@cache
def parsed(name: str) -> Parsed:
    return parse_bytes((SISIMAI / "eml" / name).read_bytes())


def _agreement(exp: Expected, got: Report) -> int:
    return (
        4 * (got.reason.value == exp.reason)
        + 2 * (got.status == exp.status)
        + ((got.kind.value == "hard") == exp.hard)
    )


def pair(
    expected: tuple[Expected, ...], reports: tuple[Report, ...]
) -> list[tuple[Expected, Report | None]]:
    """Match each expected recipient to one report: the reference gives no addresses, so take
    the assignment that agrees best (at most four recipients per sample: brute force)."""
    if not reports:
        return [(e, None) for e in expected]
    size = min(len(expected), len(reports))
    best: list[tuple[Expected, Report | None]] = []
    best_score = -1
    for chosen in permutations(reports, size):
        score = sum(_agreement(e, r) for e, r in zip(expected, chosen, strict=False))
        if score > best_score:
            best_score = score
            best = [*zip(expected, chosen, strict=False)]
    return best + [(e, None) for e in expected[size:]]


@dataclass
class Tally:
    """Hits over cases for each measure."""

    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cases: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, measure: str, hit: bool) -> None:
        self.cases[measure] += 1
        self.hits[measure] += int(hit)

    def share(self, measure: str) -> float:
        return self.hits[measure] / self.cases[measure] if self.cases[measure] else 1.0


@dataclass
class Scores:
    """Agreement over the whole corpus and per family, with the disagreements listed."""

    total: Tally = field(default_factory=Tally)
    families: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[str] = field(default_factory=list)
    auto_replies_taken: int = 0

    def add(self, name: str, measure: str, hit: bool, detail: str = "") -> None:
        self.total.add(measure, hit)
        self.families[family(name)].add(measure, hit)
        if not hit and measure != "no bad address, hard":
            self.misses.append(f"{name}: {measure}: {detail}")
        elif hit and measure == "no bad address, hard":
            self.misses.append(f"{name}: marked hard: {detail}")


def score_sample(scores: Scores, name: str) -> None:
    expected, result = EXPECTED[name], parsed(name)
    if all(e.reason == "vacation" for e in expected):
        scores.auto_replies_taken += bool(result.is_bounce or result.reports)
        return
    for exp, got in pair(expected, result.reports):
        seen = (
            "-"
            if got is None
            else f"{got.action} {got.status} {got.reason} {got.kind} [{got.source}]"
        )
        detail = f"expected {exp.status} {exp.reason} hard={exp.hard}, got {seen}"
        if exp.reason in _NOT_FAILURES:
            hit = got is not None and got.action in _SUCCESS and got.reason.value == "delivered"
            scores.add(name, "success read as delivered", hit, detail)
            continue
        scores.add(name, "recipient found", got is not None and got.action not in _SUCCESS, detail)
        if exp.scored_status:
            scores.add(name, "status agrees", got is not None and got.status == exp.status, detail)
        scores.add(
            name, "reason agrees", got is not None and got.reason.value == exp.reason, detail
        )
        is_hard = got is not None and got.kind.value == "hard"
        if exp.hard:
            scores.add(name, "address failures hard", is_hard, detail)
        else:
            scores.add(name, "no bad address, hard", is_hard, detail)


@cache
def corpus_scores() -> Scores:
    scores = Scores()
    for name in sorted(EXPECTED):
        score_sample(scores, name)
    return scores


def figures_table(scores: Scores) -> str:
    """The agreement figures as a Markdown table: measure, target, ours."""
    lines = ["| measure | target | ours |", "|---|---|---|"]
    for measure, target in TARGETS.items():
        sign = "≤" if measure in _AT_MOST else "≥"
        hits, cases = scores.total.hits[measure], scores.total.cases[measure]
        lines.append(
            f"| {measure} | {sign} {target:.0%} | {hits}/{cases} "
            f"({scores.total.share(measure):.1%}) |"
        )
    lines.append(f"| auto-replies taken for bounces | 0 | {scores.auto_replies_taken} |")
    return "\n".join(lines)


def family_table(scores: Scores) -> str:
    measures = ("recipient found", "status agrees", "reason agrees")
    lines = ["| family | " + " | ".join(measures) + " |", "|---|---|---|---|"]
    for name, tally in sorted(scores.families.items()):
        cells = [f"{tally.hits[m]}/{tally.cases[m]}" if tally.cases[m] else "-" for m in measures]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_sample_parses_to_reports_or_is_ignored(name: str) -> None:
    result = parsed(name)
    if all(e.reason == "vacation" for e in EXPECTED[name]):
        assert not result.is_bounce and result.reports == ()
    else:
        assert result.is_bounce
        assert result.reports


@pytest.mark.parametrize("measure", list(TARGETS))
def test_corpus_agreement_meets_target(measure: str, capsys: pytest.CaptureFixture[str]) -> None:
    scores = corpus_scores()
    with capsys.disabled():
        if measure == next(iter(TARGETS)):
            print("\n" + figures_table(scores) + "\n\n" + family_table(scores))
    share = scores.total.share(measure)
    if measure in _AT_MOST:
        assert share <= TARGETS[measure], figures_table(scores)
    else:
        assert share >= TARGETS[measure], figures_table(scores)


def test_corpus_auto_replies_are_never_bounces() -> None:
    assert corpus_scores().auto_replies_taken == 0


def test_corpus_every_sample_has_an_expectation() -> None:
    assert {p.name for p in (SISIMAI / "eml").glob("*.eml")} == set(EXPECTED)
