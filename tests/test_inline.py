"""CSS inlining: no network, and the per-layout cache gives exactly what premailer would."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.support.events import ROOT, make_event
from worker.intake.events import parse_event
from worker.render.inline import Placeholders, strip_remote_css
from worker.render.renderer import Renderer
from worker.settings import Settings

CASES = json.loads((ROOT / "samples" / "cases.json").read_text(encoding="utf-8"))
HOSTILE = [
    "<script>alert(1)</script>",
    'Tom & Jerry\'s "plan"',
    "{{ 7*7 }}",
    "王小明 🎉",
    "pdnph0x",
    "PDNPH1X and pdnph",
    "a" * 256,
]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("locale", ["zh_TW", "en"])
def test_inline_cached_layout_equals_direct_inlining(
    settings: Settings, case: str, locale: str
) -> None:
    event = parse_event({**CASES[case], "event_id": f"ev-{case}"})
    cached = Renderer(settings).render(event, locale).html
    direct = Renderer(settings, cache_layouts=False).render(event, locale).html
    assert cached == direct


@pytest.mark.parametrize("name", HOSTILE)
def test_inline_cached_layout_equals_direct_inlining_for_hostile_values(
    settings: Settings, name: str
) -> None:
    event = parse_event(
        make_event(subscription_name=name, admin_name=name, account_name=name, card_brand=name[:32])
    )
    for locale in ("zh_TW", "en"):
        cached = Renderer(settings).render(event, locale).html
        direct = Renderer(settings, cache_layouts=False).render(event, locale).html
        assert cached == direct


def test_inline_placeholders_refuse_a_layout_that_altered_a_token() -> None:
    ph = Placeholders()
    token = ph("value")
    assert token is not None
    assert ph.inline(f"<html><body><p>{token.upper()}</p></body></html>") is None
    assert ph.inline(f"<html><body><p>{token}</p></body></html>") is not None


def test_inline_remote_stylesheets_and_imports_are_stripped() -> None:
    html = (
        '<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "<style>@import url(http://127.0.0.1:9/y.css); p {color: red}</style></head>"
        "<body><p>x</p></body></html>"
    )
    out = strip_remote_css(html)
    assert "@import" not in out and "<link" not in out and "color: red" in out


@hsettings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda s: s.strip()))
def test_inline_cached_layout_equals_direct_inlining_for_any_name(name: str) -> None:
    from worker.errors import InvalidEvent
    from worker.settings import Settings as S

    try:
        event = parse_event(make_event(subscription_name=name, admin_name=name))
    except InvalidEvent:
        return
    plain = S()
    cached = Renderer(plain).render(event, "en").html
    direct = Renderer(plain, cache_layouts=False).render(event, "en").html
    assert cached == direct
