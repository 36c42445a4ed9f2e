"""Line wrapping for the plain-text part, counting a CJK character as two columns."""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass, replace

#: Never at the start of a line (closing punctuation) / never at the end (opening).
CLOSERS = "，。、：；！？」』）》〉…"
OPENERS = "「『（《〈"
_WIDE_FROM = "\u2e80"  # CJK radicals onwards: full-width in a monospaced mail client


def _wide(ch: str) -> bool:
    return ch >= _WIDE_FROM


def columns(text: str) -> int:
    """The display width of ``text`` in a monospaced font."""
    return sum(2 if _wide(c) else 1 for c in text)


def underline(text: str, mark: str = "-") -> str:
    """A rule as wide as ``text``."""
    return mark * columns(text)


def wrap(text: object, width: int = 76, first: str = "", rest: str = "") -> str:
    """Wrap one paragraph at ``width`` display columns (see _wrap)."""
    # Most paragraphs of a notice are fixed copy: the same few hundred strings per locale.
    return _wrap(str(text), width, first, rest)


@functools.lru_cache(maxsize=4096)
def _wrap(text: str, width: int, first: str, rest: str) -> str:
    """Wrap one paragraph at ``width`` display columns.

    Latin text breaks at spaces. Chinese has no spaces: a line may break between two CJK
    characters, but not before closing punctuation or after an opening one, and Latin
    text or digits glued to CJK stay with it ("2026年7月4日" is never split). A URL or an
    email address is never cut: longer than the width, it gets a line of its own; any
    other word longer than the width (a 256-character name) is cut at the width. A
    Chinese paragraph never ends on a lone character ("人。"). ``first`` prefixes the
    first line, ``rest`` the others.
    """
    if text.isascii():
        words = text.split()
        room = width - max(len(first), len(rest))
        if all(len(word) <= room for word in words):
            # Latin only: breaks fall at spaces alone, which is what textwrap does (in
            # C-speed string operations) once whitespace is collapsed as wrap_cjk does.
            return "\n".join(
                textwrap.wrap(
                    " ".join(words),
                    width,
                    initial_indent=first,
                    subsequent_indent=rest,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    return wrap_cjk(text, width, first, rest)


#: A word that must never be cut: a URL, or an email address.
_WHOLE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|[^\s@]@[^\s@]+\.[^\s@]")
#: A Chinese paragraph's last line is at least this wide when the line before can spare it.
_WIDOW_COLUMNS = 6


@dataclass
class _Unit:
    """A piece of text no line break may fall inside."""

    text: str
    cols: int
    space: bool  #: whitespace came before it


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    word, wcols, space = "", 0, False
    for ch in f"{text} ":
        last = word[-1:]
        last_breakable = bool(last) and _wide(last) and last not in OPENERS
        if ch in " \n":
            place = word != ""
        elif ch in CLOSERS:
            place = False
        elif _wide(ch):
            place = last_breakable
        else:
            place = last_breakable and ch not in "0123456789"
        if place:
            units.append(_Unit(word, wcols, space))
            word, wcols, space = "", 0, False
        if ch in " \n":
            space = bool(units)
        else:
            word += ch
            wcols += 2 if _wide(ch) else 1
    return units


def _cut(unit: _Unit, room: int) -> tuple[_Unit, _Unit]:
    """``unit`` cut after at most ``room`` columns (never right before a closer)."""
    cols, end = 0, 0
    for i, ch in enumerate(unit.text):
        w = 2 if _wide(ch) else 1
        if cols + w > room:
            break
        cols, end = cols + w, i + 1
    while 1 < end < len(unit.text) and unit.text[end] in CLOSERS:
        end -= 1
        cols -= 2 if _wide(unit.text[end]) else 1
    end = max(end, 1)
    head, tail = unit.text[:end], unit.text[end:]
    return _Unit(head, columns(head), unit.space), _Unit(tail, columns(tail), False)


def wrap_cjk(text: str, width: int = 76, first: str = "", rest: str = "") -> str:
    """wrap() for any text, CJK included (see wrap)."""
    lines: list[list[_Unit]] = []
    line: list[_Unit] = []
    cols = 0
    limit = width - len(first)
    pending = _units(text)
    pending.reverse()
    while pending:
        unit = pending.pop()
        gap = 1 if line and unit.space else 0
        if cols + gap + unit.cols <= limit:
            line.append(unit)
            cols += gap + unit.cols
            continue
        fresh = width - len(rest)
        if unit.cols > fresh and not _WHOLE.search(unit.text):
            # Too long for any line: fill this one, the rest goes on the next ones.
            room = limit - cols - gap
            if room >= min(8, fresh):
                head, tail = _cut(unit, room)
                line.append(head)
                pending.append(tail)
                lines.append(line)
                line, cols, limit = [], 0, fresh
                continue
        if line:
            lines.append(line)
            line, cols, limit = [], 0, fresh
        if unit.cols > limit and not _WHOLE.search(unit.text):
            head, tail = _cut(unit, limit)
            lines.append([head])
            pending.append(tail)
            continue
        line, cols = [replace(unit, space=False)], unit.cols
    if line:
        lines.append(line)
    _no_widow(lines, width - len(rest))
    return "\n".join((first if i == 0 else rest) + _join(units) for i, units in enumerate(lines))


def _join(units: list[_Unit]) -> str:
    return "".join((" " if i and u.space else "") + u.text for i, u in enumerate(units))


def _no_widow(lines: list[list[_Unit]], limit: int) -> None:
    """Move CJK units down from the line before until the last line is not a lone word."""
    if len(lines) < 2 or not any(_wide(c) for c in _join(lines[-1])):
        return
    last, before = lines[-1], lines[-2]
    while len(before) > 1 and columns(_join(last)) < _WIDOW_COLUMNS:
        moved = before[-1]
        if moved.text[-1] in OPENERS or not _wide(moved.text[-1]) or last[0].space:
            return  # a space or Latin text at the break: it is a word break, leave it
        if columns(_join([moved, *last])) > limit:
            return
        before.pop()
        last.insert(0, moved)
        last[1] = replace(last[1], space=False)


class Helpers:
    """What plain-text templates call as ``w.wrap(...)``, ``w.columns(...)``..."""

    wrap = staticmethod(wrap)
    columns = staticmethod(columns)
    underline = staticmethod(underline)
