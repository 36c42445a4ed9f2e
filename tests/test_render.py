"""The notice copy: golden files per sample case and locale, escaping, locales, amounts.

Golden files live in tests/golden/; rewrite them with ``UPDATE_GOLDEN=1 pytest
tests/test_render.py`` and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import worker.render.context as render_module
from worker.intake.events import Event, parse_event
from worker.render import samples
from worker.render.context import build_context
from worker.render.i18n import negotiate
from worker.render.renderer import Rendered, Renderer
from worker.settings import Brand, Settings

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CASES: dict[str, dict[str, Any]] = json.loads((ROOT / "samples" / "cases.json").read_text("utf-8"))
LOCALES = ("en", "zh_TW")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
#: Fixed settings: golden files must not depend on the environment.
SETTINGS = Settings().with_(timezone="UTC")

#: The sentence (or its telling part) that the given case must produce, per locale.
CASE_SENTENCES: dict[str, dict[str, str]] = {
    "card_declined": {
        "en": "Your bank declined the charge.",
        "zh_TW": "您的發卡銀行拒絕了這筆扣款。",
    },
    "card_expired": {
        "en": "The credit card on file has expired.",
        "zh_TW": "帳戶登記的信用卡已過期。",
    },
    "insufficient_funds": {
        "en": "did not have enough available funds or credit",
        "zh_TW": "可用餘額或信用額度不足",
    },
    "processing_error": {"en": "because of a processing error", "zh_TW": "因處理錯誤而失敗"},
    "unknown_reason": {
        "en": "we did not receive a reason from the card issuer",
        "zh_TW": "發卡銀行也沒有提供原因",
    },
    "invoice": {
        "en": "using the remittance details below",
        "zh_TW": "請以匯款或轉帳方式",
    },
    "disabled": {"en": "your subscription has been disabled", "zh_TW": "您的訂用帳戶目前已停用"},
    "disable_at_given": {
        "en": "If the balance remains unpaid on April 5, 2026",
        "zh_TW": "如果到2026年4月5日仍未付清款項",
    },
    "minimal": {
        "en": "billing contact of the subscription sub_00000001.",
        "zh_TW": "訂用帳戶「sub_00000001」的帳戶管理員及帳單聯絡人",
    },
}
#: The failure-reason sentences: a notice must hold its own reason's and no other.
REASON_CASES = {
    "card_declined": "card_declined",
    "card_expired": "card_expired",
    "insufficient_funds": "insufficient_funds",
    "processing_error": "processing_error",
    "unknown": "unknown_reason",
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(SETTINGS)


STEP_CASES = samples.step_cases()


def event_for(case: str, **changes: Any) -> Event:
    return parse_event({**CASES[case], **changes})


class _Visible(HTMLParser):
    """The text a reader sees (title and preheader included, CSS left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.images: list[dict[str, str | None]] = []
        self._skip = 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._link_text = []
        elif tag == "img":
            self.images.append(dict(attrs))
        elif tag in ("br", "p", "tr", "li", "h1", "h2", "div", "title"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._link_text).strip()))
            self._href = None
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)
            if self._href is not None:
                self._link_text.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def visible(html: str) -> _Visible:
    parser = _Visible()
    parser.feed(html)
    return parser


def says(text: str, phrase: str) -> bool:
    """Whether ``text`` holds ``phrase``, wherever line wrapping put the breaks."""
    return re.sub(r"\s+", "", phrase) in re.sub(r"\s+", "", text)


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def golden_check(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs (UPDATE_GOLDEN=1 rewrites it)"


# -- golden files ------------------------------------------------------------------------
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden_text(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    golden_check(GOLDEN / f"{case}.{locale}.txt", f"Subject: {out.subject}\n\n{out.text}")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden_html(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    golden_check(GOLDEN / f"{case}.{locale}.html", out.html)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_render_step_matches_golden(renderer: Renderer, case: str, locale: str) -> None:
    payload, step = STEP_CASES[case]
    out = renderer.render(parse_event(payload), locale, step)
    golden_check(GOLDEN / f"{case}.{locale}.txt", f"Subject: {out.subject}\n\n{out.text}")
    golden_check(GOLDEN / f"{case}.{locale}.html", out.html)


def test_render_step_copy_says_what_the_step_adds(renderer: Renderer) -> None:
    reminder, step = STEP_CASES["step_reminder"]
    en = renderer.render(parse_event(reminder), "en", step)
    words = " ".join(en.text.split())
    assert en.subject.startswith("Reminder:") and "past due for 3 days" in words
    assert "https://pay.example.com/invoices/in_2026_0001?t=7f3a91c2" in en.text
    assert 'href="https://pay.example.com/invoices/in_2026_0001?t=7f3a91c2"' in en.html
    assert "again on March 9, 2026" in words and "Charge attempts so far: 2." in words
    final, step = STEP_CASES["step_final"]
    zh = renderer.render(parse_event(final), "zh_TW", step)
    assert zh.subject.startswith("最後通知") and "最後一次通知" in zh.text
    first = renderer.render(parse_event(reminder), "en")
    assert not first.subject.startswith("Reminder") and "Reminder" not in first.text


def test_render_step_layout_cache_matches_a_fresh_inline(renderer: Renderer) -> None:
    fresh = Renderer(SETTINGS, cache_layouts=False)
    for payload, step in STEP_CASES.values():
        for locale in LOCALES:
            event = parse_event(payload)
            assert (
                renderer.render(event, locale, step).html == fresh.render(event, locale, step).html
            )


def test_golden_files_have_no_strays() -> None:
    names = [*CASES, *STEP_CASES]
    expected = {f"{c}.{loc}.{ext}" for c in names for loc in LOCALES for ext in ("txt", "html")}
    assert {p.name for p in GOLDEN.iterdir()} == expected


# -- the sample cases ---------------------------------------------------------------------
def test_samples_cover_every_required_case() -> None:
    events = {name: parse_event(payload) for name, payload in CASES.items()}
    reasons = {str(e.reason) for e in events.values() if e.payment_method == "credit_card"}
    assert reasons >= {
        "card_declined",
        "card_expired",
        "insufficient_funds",
        "processing_error",
        "unknown",
    }
    assert any(e.payment_method == "invoice" for e in events.values())
    assert any(
        e.subscription_status == "disabled" and e.payment_method == "credit_card"
        for e in events.values()
    )
    assert any(e.disable_at is not None for e in events.values())
    assert {e.currency for e in events.values()} >= {"TWD", "USD", "JPY"}
    minimal = CASES["minimal"]
    assert set(minimal) == {
        "event_id",
        "subscription_id",
        "admin_email",
        "amount",
        "currency",
        "payment_method",
    }
    for payload in CASES.values():
        assert "locale" not in payload
        assert payload["admin_email"].endswith("@example.com")
        assert isinstance(payload["amount"], str)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_case_has_its_specific_sentence(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    html_text = visible(out.html).text
    text = out.text
    expected = CASE_SENTENCES[case][locale]
    assert says(html_text, expected)
    assert says(text, expected)
    event = event_for(case)
    own = str(event.reason) if event.payment_method == "credit_card" else None
    for reason, sample in REASON_CASES.items():
        sentence = CASE_SENTENCES[sample][locale]
        assert says(text, sentence) == (reason == own), f"{case}: {sentence}"
        assert says(html_text, sentence) == (reason == own), f"{case}: {sentence}"


@pytest.mark.parametrize(
    "case", [c for c in sorted(CASES) if CASES[c]["payment_method"] == "credit_card"]
)
def test_render_card_headline_in_zh_tw(renderer: Renderer, case: str) -> None:
    out = renderer.render(event_for(case), "zh-TW")
    assert "向您的信用卡收取費用" in out.text
    assert "向您的信用卡收取費用" in out.html


def test_render_invoice_shows_remittance_address_and_support(renderer: Renderer) -> None:
    for locale in LOCALES:
        out = renderer.render(event_for("invoice"), locale)
        lines = SETTINGS.for_locale(locale).brand.remittance_address.splitlines()
        assert len(lines) == 3
        for line in lines:
            assert f"    {line}\n" in out.text
            assert line in out.html
        assert SETTINGS.brand.support_url in out.text
        assert "<br>" in out.html.split(lines[0], 1)[1].split("</td>", 1)[0]
        assert SETTINGS.brand.payment_url not in out.text


def test_render_disabled_explains_reactivation(renderer: Renderer) -> None:
    out = renderer.render(event_for("disabled"), "en")
    assert SETTINGS.brand.reactivate_url in out.text
    assert f'href="{SETTINGS.brand.reactivate_url}"' in out.html
    assert "To avoid an interruption" not in out.text
    active = renderer.render(event_for("card_declined"), "en")
    assert SETTINGS.brand.reactivate_url not in active.text
    assert "To avoid an interruption" in active.text


def test_render_disable_at_shows_concrete_dates(renderer: Renderer) -> None:
    en = renderer.render(event_for("disable_at_given"), "en")
    zh = renderer.render(event_for("disable_at_given"), "zh_TW")
    # 90 days after 2026-04-05 is 2026-07-04.
    assert says(en.text, "April 5, 2026") and says(en.text, "July 4, 2026")
    assert "2026年4月5日" in zh.text and "2026年7月4日" in zh.text
    minimal = renderer.render(event_for("minimal"), "en")
    assert "will be deleted on" not in minimal.text


@pytest.mark.parametrize(
    ("days", "en", "zh"),
    [
        (90, "Your data will be deleted 90 days after", "服務取消 90 天後"),
        (1, "Your data will be deleted 1 day after", "服務取消 1 天後"),
    ],
)
def test_render_retention_sentence_uses_plural_forms(
    monkeypatch: pytest.MonkeyPatch, days: int, en: str, zh: str
) -> None:
    monkeypatch.setattr(render_module, "DATA_RETENTION_DAYS", days)
    renderer = Renderer(SETTINGS)
    assert en in " ".join(renderer.render(event_for("minimal"), "en").text.split())
    assert says(renderer.render(event_for("minimal"), "zh_TW").text, zh)
    assert says(renderer.render(event_for("minimal"), "zh_TW").html, zh)


def test_render_card_label_variants(renderer: Renderer) -> None:
    both = renderer.render(event_for("card_declined"), "en").text
    last4_only = renderer.render(event_for("processing_error"), "en").text
    brand_only = renderer.render(event_for("unknown_reason"), "en").text
    neither = renderer.render(event_for("minimal"), "en").text
    assert "Payment method: Visa ending in 4242" in both
    assert "Payment method: Card ending in 1881" in last4_only
    assert "Payment method: American Express card" in brand_only
    assert "Payment method: Credit card on file" in neither
    zh = renderer.render(event_for("card_declined"), "zh_TW").text
    assert "付款方式：Visa 信用卡（末四碼 4242）" in zh


# -- what every notice must say -----------------------------------------------------------
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_text_carries_every_link_and_fact(
    renderer: Renderer, case: str, locale: str
) -> None:
    event = event_for(case)
    out = renderer.render(event, locale)
    context = build_context(event, out.locale, SETTINGS)
    brand = SETTINGS.brand
    urls = {brand.support_url, brand.profile_url}
    urls.add(brand.payment_url if event.payment_method == "credit_card" else brand.support_url)
    if event.subscription_status == "disabled":
        urls.add(brand.reactivate_url)
    hrefs = {href for href, _ in visible(out.html).links}
    for url in urls:
        assert url in out.text
        assert url in hrefs
    facts = [
        context["amount"],
        event.subscription_id,
        event.admin_email,
        context["sender_address"],
        brand.product_name,
        event.event_id,
    ]
    facts += [
        v
        for v in (
            context["sender_name"],
            event.subscription_name,
            event.account_name,
            event.card_last4,
            event.card_brand,
            context["failed_on"],
            context["due_date"],
            context["disable_at"],
            context["deletion_date"],
        )
        if v
    ]
    html_text = visible(out.html).text
    for fact in facts:
        assert says(out.text, fact), fact
        assert says(html_text, fact), fact


@pytest.mark.parametrize("locale", LOCALES)
def test_render_covers_help_spam_and_admin_topics(renderer: Renderer, locale: str) -> None:
    text = renderer.render(event_for("card_expired"), locale).text
    expected = {
        "en": [
            "account admin has left your organization or changed roles",
            "already paid but your subscription is still disabled",
            "spam or junk folder",
            "safe senders or contacts",
            "together with any other past-due services on your account",
            "services will be cancelled and its resources will no longer be available",
            "account admin and billing contact of Northwind Analytics",
        ],
        "zh_TW": [
            "帳戶管理員已離職或調任其他職務",
            "您已付款，但訂用帳戶仍為停用狀態",
            "垃圾郵件資料夾",
            "安全寄件者清單或聯絡人",
            "其他逾期未付的服務費用",
            "相關資源也將無法再使用",
            "「Northwind Analytics」的帳戶管理員及帳單聯絡人",
        ],
    }[locale]
    for phrase in expected:
        assert says(text, phrase), phrase


def test_render_footer_names_subscription_without_account(renderer: Renderer) -> None:
    text = " ".join(renderer.render(event_for("minimal"), "en").text.split())
    assert "billing contact of the subscription sub_00000001." in text


def test_render_company_address_only_when_configured() -> None:
    plain = Renderer(SETTINGS).render(event_for("minimal"), "en")
    branded = Renderer(
        SETTINGS.with_(
            brand=replace(SETTINGS.brand, company_address="Example Co.\n1 Sample Road\nTaipei")
        )
    ).render(event_for("minimal"), "en")
    assert "1 Sample Road" not in plain.text
    assert "Example Co.\n1 Sample Road\nTaipei\n" in branded.text
    assert "Example Co.<br>1 Sample Road<br>Taipei" in branded.html


# -- language -----------------------------------------------------------------------------
_ASCII_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[\s,.;:!?()/&-]+[A-Za-z][A-Za-z'’-]*){2,}")
_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _strip_known_values(text: str, event: Event, out: Rendered) -> str:
    context = build_context(event, out.locale, SETTINGS)
    brand = SETTINGS.for_locale(out.locale).brand
    values = [
        brand.product_name,
        context["sender_name"],
        context["amount"],
        *brand.remittance_address.splitlines(),
        *brand.company_address.splitlines(),
        event.subscription_name,
        event.account_name,
        event.admin_name,
        event.subscription_id,
        event.event_id,
        event.card_brand,
    ]
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, " ")
    return text


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_zh_tw_has_no_english_sentence(renderer: Renderer, case: str) -> None:
    event = event_for(case)
    out = renderer.render(event, "zh-TW")
    for part in (f"{out.subject}\n{out.text}", visible(out.html).text):
        rest = _strip_known_values(part, event, out)
        runs = _ASCII_RUN.findall(rest)
        assert not runs, f"English left in the zh-TW notice: {runs}"


def test_render_english_detector_catches_english() -> None:
    # The detector itself must be able to fail, or the test above proves nothing.
    assert _ASCII_RUN.findall("請更新 update your payment 資訊")
    assert not _ASCII_RUN.findall("訂用帳戶 ID：sub_1，Visa 信用卡")


@pytest.mark.parametrize(
    ("tag", "locale", "lang"),
    [
        ("zh-TW", "zh_TW", "zh-TW"),
        ("zh_TW", "zh_TW", "zh-TW"),
        ("zh-Hant", "zh_TW", "zh-TW"),
        ("zh-Hant-TW", "zh_TW", "zh-TW"),
        ("en-US", "en", "en"),
        ("fr", "en", "en"),
        ("", "en", "en"),
        (None, "en", "en"),
    ],
)
def test_render_negotiates_locale(
    renderer: Renderer, tag: str | None, locale: str, lang: str
) -> None:
    assert negotiate(tag) == locale
    out = renderer.render(event_for("minimal", locale=tag))
    assert (out.locale, out.lang) == (locale, lang)
    assert f'<html lang="{lang}"' in out.html
    marker = (
        "我們已無法就您的訂用帳戶向您的信用卡收取費用。"
        if locale == "zh_TW"
        else ("We couldn't charge your credit card for your subscription.")
    )
    assert marker in out.text


# -- amounts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        ("1234.50", "TWD", "en", "NT$1,234.50"),
        ("1234.50", "TWD", "zh_TW", "NT$1,234.50"),
        ("86400.00", "TWD", "en", "NT$86,400"),
        ("86400.00", "TWD", "zh_TW", "NT$86,400"),
        ("86400", "TWD", "zh_TW", "NT$86,400"),
        ("1234.50", "USD", "en", "US$1,234.50"),
        ("1234.50", "USD", "zh_TW", "US$1,234.50"),
        ("49.00", "USD", "en", "US$49.00"),
        ("12000", "JPY", "en", "JP¥12,000"),
        ("12000", "JPY", "zh_TW", "JP¥12,000"),
        ("10.50", "EUR", "zh_TW", "€10.50"),
    ],
)
def test_render_formats_amount_per_locale(
    renderer: Renderer, amount: str, currency: str, locale: str, shown: str
) -> None:
    out = renderer.render(event_for("minimal", amount=amount, currency=currency), locale)
    label = "Amount due: " if locale == "en" else "應付金額："
    assert f"{label}{shown}\n" in out.text
    assert f">{shown}</td>" in out.html
    if currency == "JPY":
        assert "12,000." not in out.text


# -- escaping and headers -------------------------------------------------------------------
HOSTILE = [
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% if true %}x{% endif %}",
    "Tom & Jerry \"quoted\" 'single'",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("locale", LOCALES)
def test_render_escapes_event_values(renderer: Renderer, value: str, locale: str) -> None:
    event = event_for(
        "card_declined",
        subscription_name=value,
        account_name=value,
        admin_name=value,
        card_brand=value[:32],
    )
    out = renderer.render(event, locale)
    assert "<script>" not in out.html
    assert "alert(1)</script>" not in out.html
    assert value in " ".join(visible(out.html).text.split())  # shown as text, as sent
    flat = " ".join(out.text.split())
    assert value in flat  # the plain-text part is not escaped, and never evaluated
    assert "49" not in flat
    assert "&amp;" not in flat and "&lt;" not in flat


def test_render_escapes_markup_as_entities(renderer: Renderer) -> None:
    out = renderer.render(
        event_for("card_declined", subscription_name="<script>alert(1)</script>"), "en"
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html


@pytest.mark.parametrize("locale", LOCALES)
def test_render_subject_stays_one_line_with_crlf(renderer: Renderer, locale: str) -> None:
    # parse_event already flattens control characters; build the event directly to prove
    # the subject holds even when a caller skips validation.
    event = replace(
        event_for("card_declined"),
        subscription_name="Plan\r\nBcc: victim@example.com",
        account_name="Acme\nX-Injected: 1",
        admin_name="A\rB",
    )
    out = Renderer(
        SETTINGS.with_(brand=replace(SETTINGS.brand, product_name="Cloud\r\nBcc: evil@example.com"))
    ).render(event, locale)
    assert "\n" not in out.subject and "\r" not in out.subject
    assert len(out.subject) <= 78
    assert "Cloud Bcc: evil@example.com" in out.subject
    assert "Plan" not in out.subject and "Acme" not in out.subject
    assert "\r" not in renderer.render(event, locale).subject


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_subject_is_short_and_has_no_subscription_name(
    renderer: Renderer, case: str, locale: str
) -> None:
    event = event_for(case)
    out = renderer.render(event, locale)
    assert 0 < len(out.subject) < 78
    assert "\n" not in out.subject
    if event.subscription_name:
        assert event.subscription_name not in out.subject
    assert SETTINGS.brand.product_name in out.subject


def test_render_subject_long_product_name_is_cut() -> None:
    long_brand = replace(SETTINGS.brand, product_name="Enterprise Collaboration Platform " * 3)
    out = Renderer(SETTINGS.with_(brand=long_brand)).render(event_for("invoice"), "en")
    assert len(out.subject) == 78
    assert out.subject.startswith("Payment past due for Enterprise")
    assert out.subject.endswith("…")


# -- mail quality -------------------------------------------------------------------------
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_html_is_built_for_mail_clients(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    html = out.html
    head = html.split("<body", 1)[0]
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in head
    assert re.search(r"<title>[^<]+</title>", head)
    assert 'role="presentation"' in html
    assert "max-width:600px" in html
    assert "color-scheme" in head and "@media (prefers-color-scheme: dark)" in head
    assert head.count("<style") == 1
    assert "<link" not in html and "@import" not in html
    assert 'class="preheader"' in html and "display:none" in html
    assert "<img" not in html or all(img.get("alt") for img in visible(html).images)
    # A bulletproof button: a styled link inside a table cell.
    assert re.search(r'<td class="button-cell"[^>]*><a class="button" href="https://', html)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_links_are_descriptive(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    links = visible(out.html).links
    assert links
    for href, text in links:
        assert href.startswith("https://")
        assert text, f"empty link text for {href}"
        if re.match(r"(https?://|www\.)", text):
            assert text == href


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_copy_does_not_shout(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    for part in (out.subject, out.text, visible(out.html).text):
        assert not re.search(r"\b[A-Z]{4,}\b", part.replace("JPY", "")), part
        assert "!!" not in part and "！！" not in part
        for word in ("FREE", "URGENT", "ACT NOW", "Act now", "Urgent"):
            assert word not in part


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_render_text_wraps_at_76_columns(renderer: Renderer, case: str, locale: str) -> None:
    out = renderer.render(event_for(case), locale)
    for line in out.text.splitlines():
        if columns(line) > 76:
            # Only a line holding one unbreakable token (a URL, an address) may be longer.
            assert " " not in line.strip(), line
            assert _URL.search(line) or _EMAIL.search(line), line


def test_render_wraps_long_chinese_paragraphs() -> None:
    event = event_for("card_declined", account_name="很長的公司名稱" * 8)
    out = Renderer(SETTINGS).render(event, "zh_TW")
    footer = out.text.split("\n--\n", 1)[1]
    assert all(columns(line) <= 76 for line in footer.splitlines())
    assert not any(line.startswith(("，", "。", "」", "：")) for line in out.text.splitlines())


def test_build_context_keys_always_present() -> None:
    minimal = build_context(event_for("minimal"), "en", SETTINGS)
    full = build_context(event_for("disable_at_given"), "zh_TW", SETTINGS)
    assert set(minimal) == set(full)
    assert minimal["failed_on"] is None and minimal["disable_at"] is None
    assert minimal["reason"] == "unknown"
    assert minimal["subscription_label"] == "sub_00000001"
    assert full["subscription_label"] == "線上商店基本方案"
    assert minimal["remittance_lines"] == [
        "Accounts Receivable",
        "100 Example Street",
        "Example City",
    ]
    assert minimal["company_address_lines"] == []


def test_render_dates_follow_timezone() -> None:
    # 2026-03-01 07:00 +08:00 is 2026-02-28 23:00 UTC: the day depends on the zone.
    event = event_for(
        "minimal", failed_at="2026-03-01T07:00:00+08:00", due_date=date(2026, 3, 15).isoformat()
    )
    utc = Renderer(SETTINGS).render(event, "en").text
    taipei = Renderer(SETTINGS.with_(timezone="Asia/Taipei")).render(event, "en").text
    assert "Charge failed on: February 28, 2026" in utc
    assert "Charge failed on: March 1, 2026" in taipei
    assert "Payment due date: March 15, 2026" in utc


def test_render_no_vendor_names_in_copy(renderer: Renderer) -> None:
    # The brand is configuration. (The stylesheet may name a system font such as
    # "Microsoft JhengHei": that is CSS, not copy, so only what a reader sees is checked.)
    pattern = re.compile(r"azure|microsoft", re.I)
    for path in [
        ROOT / "samples" / "cases.json",
        *(ROOT / "locales").rglob("*.po*"),
        ROOT / "templates" / "subject.txt",
        ROOT / "templates" / "notice.txt",
    ]:
        assert not pattern.search(path.read_text("utf-8")), path
    for case in CASES:
        for locale in LOCALES:
            out = renderer.render(event_for(case), locale)
            assert not pattern.search(out.subject + out.text + visible(out.html).text)


def test_render_brand_values_come_from_settings() -> None:
    brand = Brand(
        product_name="Nimbus Files",
        support_url="https://help.example.org/",
        payment_url="https://pay.example.org/cards",
        profile_url="https://id.example.org/me",
        reactivate_url="https://pay.example.org/reactivate",
        remittance_address="Nimbus AR\nPO Box 1",
        company_address="Nimbus Ltd",
    )
    out = Renderer(SETTINGS.with_(brand=brand)).render(event_for("disabled"), "en")
    for value in (
        "Nimbus Files",
        "https://help.example.org/",
        "https://pay.example.org/cards",
        "https://id.example.org/me",
        "https://pay.example.org/reactivate",
        "Nimbus Ltd",
    ):
        assert value in out.text and value in out.html
    assert "billing.example.com" not in out.text + out.html


def test_render_strips_bidi_controls_from_names(renderer: Renderer) -> None:
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    event = parse_event(
        {
            **CASES[next(iter(CASES))],
            "admin_name": "\u202eSU 00.99 eud tnuomA",
            "subscription_name": f"Team{controls}plan",
            "account_name": "\u2067Acme\u2069",
        }
    )
    rendered = renderer.render(event, "en")
    for part in (rendered.subject, rendered.text, rendered.html):
        assert not any(c in part for c in controls)
    assert "SU 00.99 eud tnuomA" in rendered.text and "Teamplan" in rendered.text
