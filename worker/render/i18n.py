"""Locale negotiation and gettext catalogs (compiled from locales/*.po with Babel)."""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from worker.resources import resource_dir

#: The locales we write notices in; the first is the fallback for everything else.
SUPPORTED = ("en", "zh_TW")
DEFAULT = "en"
DOMAIN = "messages"
#: BCP 47 language tag for each supported locale (``<html lang>``, Content-Language).
LANG_TAGS = {"en": "en", "zh_TW": "zh-TW"}
# Chinese written in Traditional characters: Taiwan, Hong Kong and Macau use them, and an
# explicit Hant script says so whatever the region. Simplified readers get English rather
# than a script they may not read comfortably.
_TRADITIONAL_REGIONS = frozenset({"tw", "hk", "mo"})


def negotiate(tag: str | None) -> str:
    """Map a BCP 47 or POSIX tag to a supported locale: zh-TW/zh_TW/zh-Hant(-*) → zh_TW, else en.

    >>> negotiate("zh-Hant-TW"), negotiate("zh_TW.UTF-8"), negotiate("en-GB"), negotiate("fr")
    ('zh_TW', 'zh_TW', 'en', 'en')
    """
    if not tag:
        return DEFAULT
    # POSIX form: language_TERRITORY.codeset@modifier
    cleaned = re.split(r"[.@]", tag.strip(), maxsplit=1)[0].replace("_", "-").lower()
    subtags = [s for s in cleaned.split("-") if s]
    if not subtags:
        return DEFAULT
    language = subtags[0]
    script = next((s for s in subtags[1:] if len(s) == 4 and s.isalpha()), None)
    region = next((s for s in subtags[1:] if len(s) == 2 and s.isalpha()), None)
    if language == "zh":
        if script == "hant" or (script is None and region in _TRADITIONAL_REGIONS):
            return "zh_TW"
        return DEFAULT
    return DEFAULT


def catalog_path(locale: str, root: Path | None = None) -> Path:
    return (root or resource_dir("locales")) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=8)
def _load(locale: str, path: Path, mtime: float) -> Translations:
    # The .po file is the single source of truth: compiling it in memory at load time means
    # a stale or forgotten .mo can never ship old wording. Fuzzy entries are left out, as
    # msgfmt does.
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def translations(locale: str) -> Translations:
    """The compiled catalog for ``locale``; reloaded when its .po file changes."""
    path = catalog_path(locale)
    if not path.exists():
        return Translations()  # the source language needs no catalog to work
    return _load(locale, path, path.stat().st_mtime)
