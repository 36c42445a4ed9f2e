"""The phrase tables compiled for matching, each behind a cheap test of the words it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from worker.bounces.phrases import PHRASES, WEAK_PHRASES
from worker.bounces.reasons_vocab import Reason

__all__ = ["match_text", "normalize", "phrase_reason", "required_literals"]

#: A literal shorter than this says too little to skip a table on.
_MIN_LITERAL: Final = 3
_QUANTIFIERS: Final = frozenset("?*+{")

# "550-5.1.1 " / "550 5.1.1 " / "550-" at the start of each folded reply line.
_CONTINUATION: Final = re.compile(r"(?:(?<=\s)|^)[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?")
_SPACE: Final = re.compile(r"\s+")


def _branches(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (a "|" outside every group and class)."""
    out: list[str] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1  # "[]...]": a leading "]" is a member
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _closing(pattern: str, start: int) -> int:
    """The index of the ")" closing the group opened at start, or -1."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _branch_needs(branch: str) -> tuple[str, ...] | None:
    """Words of which every match of one alternative contains one: a run of plain characters
    outside groups and classes, none of them optional or repeated, or a group that must
    match once and whose own alternatives each need a word."""
    candidates: list[tuple[str, ...]] = []
    run: list[str] = []
    i, in_class = 0, False

    def cut() -> None:
        if len(run) >= _MIN_LITERAL:
            candidates.append(("".join(run),))
        run.clear()

    while i < len(branch):
        char = branch[i]
        step = 1
        literal: str | None = None
        if char == "\\":
            escaped = branch[i + 1 : i + 2]
            step = 2
            if not in_class and escaped and not escaped.isalnum():
                literal = escaped
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if branch[i + 1 : i + 2] == "]":
                step = 2
        elif char == "(":
            close = _closing(branch, i)
            if close < 0:
                return None  # not a pattern this reading understands
            step = close - i + 1
            inner = branch[i + 1 : close]
            once = branch[close + 1 : close + 2] not in _QUANTIFIERS
            if inner.startswith("?:"):
                inner = inner[2:]
            elif inner.startswith("?"):
                once = False  # a lookaround or a flag group: nothing it needs is consumed
            words = required_literals(inner) if once else None
            if words is not None:
                candidates.append(words)
        elif char == "{":
            close = branch.find("}", i)
            step = close - i + 1 if close > i else 1  # "{2,5}" is all quantifier
        elif char not in ".^$|" and char not in _QUANTIFIERS:
            literal = char
        following = branch[i + step : i + step + 1]
        if literal is not None and following not in _QUANTIFIERS:
            run.append(literal)
        else:
            cut()  # a group, a class, an escape class, an anchor, or a quantified character
        i += step
    cut()
    # The most telling candidate: the one whose shortest word is longest.
    return max(candidates, key=lambda words: min(map(len, words)), default=None)


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Words of which every match of pattern contains at least one, or None when some
    alternative needs none long enough to test for."""
    found: list[str] = []
    for branch in _branches(pattern):
        words = _branch_needs(branch)
        if words is None:
            return None
        found.extend(w for w in words if w not in found)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class _Table:
    """One reason's phrases: those that need a word are tried only on text that has one."""

    reason: Reason
    #: The phrases no word gates, tried on every text (None: there are none).
    always: re.Pattern[str] | None
    #: The other phrases, and the words of which each of their matches contains one.
    gated: re.Pattern[str] | None
    needs: tuple[str, ...]

    def search(self, text: str) -> bool:
        if self.always is not None and self.always.search(text) is not None:
            return True
        if self.gated is None or not any(word in text for word in self.needs):
            return False
        return self.gated.search(text) is not None


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _compile(table: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[_Table, ...]:
    out: list[_Table] = []
    for key, patterns in table:
        always: list[str] = []
        gated: list[str] = []
        needs: list[str] = []
        for pattern in patterns:
            words = required_literals(pattern)
            if words is None:
                always.append(pattern)
            else:
                gated.append(pattern)
                needs.extend(w for w in words if w not in needs)
        out.append(_Table(Reason(key), _alternation(always), _alternation(gated), tuple(needs)))
    return tuple(out)


_STRONG: Final = _compile(PHRASES)
_WEAK: Final = _compile(WEAK_PHRASES)


def normalize(text: str) -> str:
    """Lowercase, collapse whitespace and drop repeated SMTP reply-code prefixes."""
    collapsed = _SPACE.sub(" ", text).strip().lower()
    return _SPACE.sub(" ", _CONTINUATION.sub(" ", collapsed)).strip()


def match_text(text: str | None, *, weak: bool = True) -> Reason | None:
    """The first reason whose phrase table matches the text, or None; weak=False leaves
    out the words every refusal uses ("rejected", "access denied")."""
    reason, strong = phrase_reason(text)
    return reason if strong or weak else None


def phrase_reason(text: str | None) -> tuple[Reason | None, bool]:
    """match_text(text) and whether a strong table said it (else match_text(text,
    weak=False) is None): one pass over the tables answers both."""
    if not text:
        return None, False
    clean = normalize(text)
    for table in _STRONG:
        if table.search(clean):
            return table.reason, True
    for table in _WEAK:
        if table.search(clean):
            return table.reason, False
    return None, False
