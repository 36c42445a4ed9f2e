"""Which of the CSS a previewed mail uses some mail client drops (from data/css_support.json)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SUPPORT_FILE = Path(__file__).parent / "data" / "css_support.json"
_STYLE_ATTR = re.compile(r"""style\s*=\s*("([^"]*)"|'([^']*)')""", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"(?:^|[;{\s])(-?[a-z][a-z-]*)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Unsupported:
    """One CSS feature the mail uses, the clients that drop it and what that means."""

    feature: str
    clients: tuple[str, ...]
    note: str


@cache
def support_table() -> dict[str, Any]:
    """The table kept in the repository (read once per process)."""
    data: dict[str, Any] = json.loads(SUPPORT_FILE.read_text(encoding="utf-8"))
    return data


def features_used(html: str) -> set[str]:
    """The CSS properties and at-rules of ``html``'s style attributes and style blocks."""
    found: set[str] = set()
    texts = [m[2] or m[3] or "" for m in _STYLE_ATTR.finditer(html)]
    blocks = _STYLE_BLOCK.findall(html)
    for text in [*texts, *blocks]:
        # Selectors such as a:hover look like declarations to the pattern; only names
        # the table lists are reported, so they do no harm.
        found.update(name.lower() for name in _PROPERTY.findall(text))
    for block in blocks:
        if re.search(r"@media[^{]*prefers-color-scheme", block):
            found.add("@media (prefers-color-scheme)")
        if re.search(r"@media", block):
            found.add("@media")
        if "@font-face" in block:
            found.add("@font-face")
    # display: block or none is fine everywhere; only the flex and grid layouts are lost.
    if not re.search(r"display\s*:\s*(inline-)?(flex|grid)", html, re.IGNORECASE):
        found.discard("display")
    return found


def client_report(html: str) -> list[Unsupported]:
    """The features ``html`` uses that at least one client of the table drops."""
    table = support_table()
    names = table["clients"]
    used = features_used(html)
    return [
        Unsupported(feature, tuple(names[c] for c in entry["drop"]), entry["note"])
        for feature, entry in table["properties"].items()
        if feature in used and entry["drop"]
    ]
