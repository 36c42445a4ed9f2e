"""Line wrapping for the plain-text part, counting a CJK character as two columns."""

from __future__ import annotations

import functools
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

    Latin text breaks at spaces only, so a URL or an address is never cut. Chinese has no
    spaces: a line may break between two CJK characters, but not before closing
    punctuation or after an opening one, and Latin text or digits glued to CJK stay with
    it ("2026年7月4日" is never split). A word longer than the width gets a line of its
    own. ``first`` prefixes the first line, ``rest`` the others.
    """
    if text.isascii():
        # Latin only: breaks fall at spaces alone, which is what textwrap does (in C-speed
        # string operations) once whitespace is collapsed as wrap_cjk collapses it.
        return "\n".join(
            textwrap.wrap(
                " ".join(text.split()),
                width,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return wrap_cjk(text, width, first, rest)


def wrap_cjk(text: str, width: int = 76, first: str = "", rest: str = "") -> str:
    """wrap() for any text, CJK included (see wrap)."""
    lines: list[str] = []
    line, cols, word, wcols, sep = "", 0, "", 0, ""
    limit = width - len(first)
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
            if line and cols + len(sep) + wcols > limit:
                lines.append(line)
                line, cols, limit = word, wcols, width - len(rest)
            else:
                gap = sep if line else ""
                line, cols = line + gap + word, cols + len(gap) + wcols
            word, wcols, sep = "", 0, ""
        if ch in " \n":
            if line:
                sep = " "
        else:
            word += ch
            wcols += 2 if _wide(ch) else 1
    if line:
        lines.append(line)
    return "\n".join((first if i == 0 else rest) + ln for i, ln in enumerate(lines))


class Helpers:
    """What plain-text templates call as ``w.wrap(...)``, ``w.columns(...)``..."""

    wrap = staticmethod(wrap)
    columns = staticmethod(columns)
    underline = staticmethod(underline)
