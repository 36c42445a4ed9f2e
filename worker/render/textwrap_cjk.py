"""Line wrapping for the plain-text part, counting a CJK character as two columns."""

from __future__ import annotations

import functools
import re
import textwrap

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


#: A piece of text no line break may fall inside: (text, columns, whitespace came before).
_Unit = tuple[str, int, bool]


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    word, wcols, space = "", 0, False
    wide_from = _WIDE_FROM
    for ch in f"{text} ":
        last = word[-1:]
        last_breakable = last >= wide_from and last not in OPENERS  # "" < wide_from
        if ch == " " or ch == "\n":
            if word:
                units.append((word, wcols, space))
                word, wcols = "", 0
            space = bool(units)
            continue
        if ch in CLOSERS:
            place = False
        elif ch >= wide_from:
            place = last_breakable
        else:
            place = last_breakable and ch not in "0123456789"
        if place:
            units.append((word, wcols, space))
            word, wcols, space = "", 0, False
        word += ch
        wcols += 2 if ch >= wide_from else 1
    return units


def _cut(unit: _Unit, room: int) -> tuple[_Unit, _Unit]:
    """``unit`` cut after at most ``room`` columns (never right before a closer)."""
    text = unit[0]
    cols, end = 0, 0
    for i, ch in enumerate(text):
        w = 2 if _wide(ch) else 1
        if cols + w > room:
            break
        cols, end = cols + w, i + 1
    while 1 < end < len(text) and text[end] in CLOSERS:
        end -= 1
    end = max(end, 1)
    head, tail = text[:end], text[end:]
    return (head, columns(head), unit[2]), (tail, columns(tail), False)


def wrap_cjk(text: str, width: int = 76, first: str = "", rest: str = "") -> str:
    """wrap() for any text, CJK included (see wrap)."""
    lines: list[list[_Unit]] = []
    line: list[_Unit] = []
    cols = 0
    limit = width - len(first)
    fresh = width - len(rest)
    pending = _units(text)
    pending.reverse()
    while pending:
        unit = pending.pop()
        word, wcols, space = unit
        gap = 1 if line and space else 0
        if cols + gap + wcols <= limit:
            line.append(unit)
            cols += gap + wcols
            continue
        if wcols > fresh and not _WHOLE.search(word):
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
        if wcols > limit and not _WHOLE.search(word):
            head, tail = _cut(unit, limit)
            lines.append([head])
            pending.append(tail)
            continue
        line, cols = [unit], wcols  # a line's first unit takes no space before it
    if line:
        lines.append(line)
    if len(lines) > 1:
        _no_widow(lines, fresh)
    return "\n".join((first if i == 0 else rest) + _join(units) for i, units in enumerate(lines))


def _join(units: list[_Unit]) -> str:
    return "".join((" " + u[0] if i and u[2] else u[0]) for i, u in enumerate(units))


def _no_widow(lines: list[list[_Unit]], limit: int) -> None:
    """Move CJK units down from the line before until the last line is not a lone word."""
    last, before = lines[-1], lines[-2]
    if not any(_wide(c) for u in last for c in u[0]):
        return
    while len(before) > 1 and columns(_join(last)) < _WIDOW_COLUMNS:
        moved = before[-1]
        if moved[0][-1] in OPENERS or not _wide(moved[0][-1]) or last[0][2]:
            return  # a space or Latin text at the break: it is a word break, leave it
        if columns(_join([moved, *last])) > limit:
            return
        before.pop()
        last.insert(0, moved)


class Helpers:
    """What plain-text templates call as ``w.wrap(...)``, ``w.columns(...)``..."""

    wrap = staticmethod(wrap)
    columns = staticmethod(columns)
    underline = staticmethod(underline)
