"""CSS inlining with premailer: never from the network, and done once per layout."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import cssutils
from premailer import Premailer

_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.S | re.I)
_IMPORT = re.compile(r"@import\b[^;]*;?", re.I)
_LINK_STYLESHEET = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?stylesheet[^>]*>", re.I)
#: Stand-ins for event values while a layout is inlined: plain ASCII letters and digits,
#: which neither HTML escaping nor premailer's serializer changes.
_TOKEN = re.compile(r"pdnph(\d+)x")
_TRACE = re.compile(r"pdnph", re.I)


def strip_remote_css(html: str) -> str:
    """Remove every way a stylesheet could pull CSS from the network.

    premailer fetches <link rel=stylesheet> unless allow_network=False, and even then
    cssutils follows @import inside <style>; neither may ever reach the network from a
    worker, so both are removed before inlining.
    """
    html = _LINK_STYLESHEET.sub("", html)
    return _STYLE_BLOCK.sub(lambda m: m.group(1) + _IMPORT.sub("", m.group(2)) + m.group(3), html)


def _no_fetch(url: str) -> None:
    """cssutils' fetcher: fetch nothing (an @import then stays unresolved)."""
    return None


@functools.lru_cache(maxsize=64)
def _parse_offline(css_body: str, validate: bool) -> cssutils.css.CSSStyleSheet:
    return cssutils.CSSParser(fetcher=_no_fetch, validate=validate).parseString(css_body)


class _OfflinePremailer(Premailer):  # type: ignore[misc]
    """cssutils follows @import with its own fetcher whatever allow_network says, and a
    CSS escape (``@\\69mport``) gets past strip_remote_css's pattern: parse with a
    fetcher that never fetches."""

    def _parse_css_string(self, css_body: str, validate: bool = True) -> Any:
        return _parse_offline(css_body, validate)


def inline_css(html: str) -> str:
    """Inline the <style> rules into style attributes (media queries stay in <style>)."""
    return str(
        _OfflinePremailer(
            strip_remote_css(html),
            allow_network=False,
            base_url=None,
            keep_style_tags=False,
            strip_important=False,
            remove_classes=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
        ).transform(pretty_print=False)
    )


#: premailer costs milliseconds per mail, Jinja microseconds. A notice's HTML with its
#: event values swapped for tokens depends only on the case (locale, payment method,
#: reason, which fields are present...), so each distinct layout is inlined once.
_inline_layout = functools.lru_cache(maxsize=512)(inline_css)


class Placeholders:
    """Allocates tokens for event values and puts the values back after inlining."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, value: str | None) -> str | None:
        if not value:
            return value
        self.values.append(str(value))
        return f"pdnph{len(self.values) - 1}x"

    def inline(self, layout_html: str) -> str | None:
        """The inlined HTML with the values put back; None if the layout did not keep the
        tokens intact (a template that transforms a value, or a value that looks like a
        token), in which case the caller inlines the real HTML instead."""
        before = _TOKEN.findall(layout_html)
        if len(_TRACE.findall(layout_html)) != len(before):
            return None
        inlined = _inline_layout(layout_html)
        after = _TOKEN.findall(inlined)
        if sorted(after) != sorted(before) or len(_TRACE.findall(inlined)) != len(after):
            return None
        if any(int(n) >= len(self.values) for n in after):
            return None
        # One pass, so that a value is never scanned for tokens after it is put back.
        return _TOKEN.sub(lambda m: self._serialized(m, inlined), inlined)

    def _serialized(self, match: re.Match[str], html: str) -> str:
        """The value escaped as lxml serializes it where the token stands: in a text node
        quotes stay as they are, inside a tag (an attribute value) a double quote is
        written &quot;."""
        value = self.values[int(match.group(1))]
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        start = match.start()
        if html.rfind("<", 0, start) > html.rfind(">", 0, start):
            value = value.replace('"', "&quot;")
        return value
