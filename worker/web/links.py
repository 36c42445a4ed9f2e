"""The links of a previewed mail, and the HTTP status of those that settings or templates give."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from worker.settings import Settings

#: Seconds per request: a link check must not hold the page for long.
LINK_TIMEOUT = 3.0
_URL_IN_TEMPLATE = re.compile(r"""https?://[^\s"'<>{}]+""")


@dataclass(frozen=True)
class Link:
    """One ``<a href>`` of the mail: its target, its text and whether it may be fetched."""

    href: str
    text: str
    checkable: bool  #: its URL comes from the settings or a template, never from an event


@dataclass(frozen=True)
class LinkStatus:
    """What a HEAD (or, refused, a GET) of one link answered."""

    href: str
    status: int | None
    note: str


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[str]]] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self._open = []
            self.found.append((href, self._open))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def trusted_urls(settings: Settings, template_dir: Path) -> frozenset[str]:
    """The URLs an operator wrote: the brand links of the settings and any in the templates."""
    brand = settings.brand
    urls = {brand.support_url, brand.payment_url, brand.profile_url, brand.reactivate_url}
    for path in template_dir.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".txt", ".j2"):
            urls.update(
                _URL_IN_TEMPLATE.findall(path.read_text(encoding="utf-8", errors="replace"))
            )
    return frozenset(u for u in urls if u)


def links_of(html: str, trusted: frozenset[str]) -> list[Link]:
    """Every link of ``html`` in order, each marked checkable when ``trusted`` holds it."""
    parser = _Anchors()
    parser.feed(html)
    return [
        Link(href, " ".join("".join(text).split()), href in trusted) for href, text in parser.found
    ]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, never followed: it could lead anywhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def _request(href: str, method: str) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310  (http(s) only: check_link refuses others)
        href, method=method, headers={"User-Agent": "past-due-notices link check"}
    )
    try:
        with _OPENER.open(request, timeout=LINK_TIMEOUT) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location", "") if exc.headers else ""
        if 300 <= exc.code < 400 and location:
            target = urljoin(href, location)
            other = urlsplit(target).netloc != urlsplit(href).netloc
            where = "another host" if other else "the same host"
            return exc.code, f"redirects to {target} ({where}; not followed)"
        return exc.code, ""


def check_link(href: str) -> LinkStatus:
    """HEAD ``href``; a server that refuses HEAD (405, 501) gets a GET."""
    if urlsplit(href).scheme not in ("http", "https"):
        return LinkStatus(href, None, "not an http(s) link; not fetched")
    try:
        status, note = _request(href, "HEAD")
        if status in (405, 501):
            status, note = _request(href, "GET")
            note = note or "HEAD refused; answered a GET"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return LinkStatus(href, None, f"unreachable: {reason}")
    return LinkStatus(href, status, note)


def check_links(links: list[Link]) -> dict[str, LinkStatus]:
    """The status of each checkable link (each URL once)."""
    out: dict[str, LinkStatus] = {}
    for link in links:
        if link.checkable and link.href not in out:
            out[link.href] = check_link(link.href)
    return out
