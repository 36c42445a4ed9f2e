"""The notice copy per locale: amounts, sign-off, invoice payment, dates, wrapping."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

import pytest

from tests.test_render import CASES, LOCALES, SETTINGS, event_for, says, visible
from worker.render.context import build_context
from worker.render.message import build_message
from worker.render.renderer import Renderer
from worker.settings import from_env


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(SETTINGS)


@pytest.mark.parametrize(
    ("amount", "currency"), [("86400.00", "TWD"), ("1234.5", "TWD"), ("12000", "JPY")]
)
def test_copy_amount_is_shown_the_same_in_both_locales(amount: str, currency: str) -> None:
    event = event_for("minimal", amount=amount, currency=currency)
    shown = {build_context(event, locale, SETTINGS)["amount"] for locale in LOCALES}
    assert len(shown) == 1, shown
    # A bare "¥" reads as renminbi in Taiwan; a bare "$" could be any dollar.
    assert not re.match(r"[¥$]", shown.pop())


def _signoff(text: str) -> str:
    return text.split("\n--\n", 1)[0].rstrip().splitlines()[-1]


def test_copy_zh_tw_signs_off_neutrally_without_a_name_of_its_own(renderer: Renderer) -> None:
    zh = renderer.render(event_for("card_declined"), "zh_TW")
    assert _signoff(zh.text) == "帳務團隊 敬上"
    assert "帳務團隊 敬上</p>" in zh.html
    assert "Billing" not in zh.text and "Billing" not in visible(zh.html).text
    en = renderer.render(event_for("card_declined"), "en")
    assert _signoff(en.text) == "The Billing team"


def test_copy_zh_tw_signs_off_with_its_own_sender_name() -> None:
    settings = from_env(
        {"MAIL_FROM": "Acme Billing <billing@acme.example>", "MAIL_FROM_NAME_ZH_TW": "範例帳務中心"}
    ).with_(timezone="UTC")
    renderer = Renderer(settings)
    zh = renderer.render(event_for("card_declined"), "zh_TW")
    en = renderer.render(event_for("card_declined"), "en")
    assert _signoff(zh.text) == "範例帳務中心 敬上"
    assert _signoff(en.text) == "The Acme Billing team"
    zh_from = build_message(zh, to="a@example.com", notice_id="n1", generation=1, settings=settings)
    en_from = build_message(en, to="a@example.com", notice_id="n1", generation=1, settings=settings)
    assert str(zh_from["From"]) == "範例帳務中心 <billing@acme.example>"
    assert str(en_from["From"]) == "Acme Billing <billing@acme.example>"


def test_copy_zh_tw_invoice_is_paid_by_bank_transfer(renderer: Renderer) -> None:
    zh = renderer.render(event_for("invoice"), "zh_TW")
    assert says(zh.text, "請以匯款或轉帳方式，將 NT$86,400 匯入下列銀行帳戶")
    assert "    帳號：" in zh.text and "    戶名：" in zh.text
    how_to_pay = zh.text.split("如何付款", 1)[1].split("如果", 1)[0]
    assert "寄送" not in how_to_pay and "地址" not in how_to_pay
    assert "Accounts Receivable" not in zh.text
    en = renderer.render(event_for("invoice"), "en")
    assert "    Accounts Receivable\n" in en.text


def test_copy_remittance_details_follow_the_locale_suffix() -> None:
    plain = from_env({"REMITTANCE_ADDRESS": "AR Dept\\nPO Box 9"}).with_(timezone="UTC")
    both = from_env(
        {"REMITTANCE_ADDRESS": "AR Dept\\nPO Box 9", "REMITTANCE_ADDRESS_ZH_TW": "帳號：123-456"}
    ).with_(timezone="UTC")
    # The plain variable, once set, is what a locale without its own variable shows.
    assert "    PO Box 9\n" in Renderer(plain).render(event_for("invoice"), "zh_TW").text
    zh = Renderer(both).render(event_for("invoice"), "zh_TW").text
    assert "    帳號：123-456\n" in zh and "PO Box 9" not in zh
    assert "    PO Box 9\n" in Renderer(both).render(event_for("invoice"), "en").text


_CJK_DATE = r"\d{4}年\d{1,2}月\d{1,2}日"
#: A space between a CJK date and the Chinese text around it.
_SPACED_DATE = re.compile(rf"[\u3400-\u9fff，。、] +{_CJK_DATE}|{_CJK_DATE} +[\u3400-\u9fff，。、]")


@pytest.mark.parametrize("case", sorted(CASES))
def test_copy_zh_tw_dates_have_no_spaces_around_them(renderer: Renderer, case: str) -> None:
    out = renderer.render(event_for(case, disable_at="2026-04-05"), "zh_TW")
    for part in (out.text, visible(out.html).text):
        assert len(re.findall(_CJK_DATE, part)) >= 2
        assert not _SPACED_DATE.search(part), _SPACED_DATE.findall(part)
    assert _SPACED_DATE.search("如果到 2026年4月5日 仍未付清")  # the check can fail


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", ["disable_at_given", "minimal", "disabled"])
def test_copy_retention_period_is_said_once(renderer: Renderer, case: str, locale: str) -> None:
    word = {"en": "90 days", "zh_TW": "90 天後"}[locale]
    for disable_at in ("2026-04-05", None):
        out = renderer.render(event_for(case, disable_at=disable_at), locale)
        assert " ".join(out.text.split()).count(word) == 1
        assert " ".join(visible(out.html).text.split()).count(word) == 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_copy_zh_tw_text_never_leaves_a_lone_character_on_a_line(
    renderer: Renderer, case: str
) -> None:
    for account in (None, "志豪工程顧問股份有限公司"):
        out = renderer.render(event_for(case, account_name=account), "zh_TW")
        for line in out.text.splitlines():
            assert not re.fullmatch(r"[\u3400-\u9fff][，。、：；！？」』）]*", line), line


def test_copy_zh_tw_uses_one_spelling_of_contact(renderer: Renderer) -> None:
    text = "".join(renderer.render(event_for(c), "zh_TW").text for c in CASES)
    assert "連絡" not in text and "聯絡" in text


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_copy_en_speaks_in_one_tense(renderer: Renderer) -> None:
    disabled = _flat(renderer.render(event_for("disabled"), "en").text)
    assert "your subscription has been disabled and its services have stopped" in disabled
    assert "we'll reactivate the subscription" in disabled
    declined = _flat(renderer.render(event_for("card_declined"), "en").text)
    assert "we'll charge the outstanding balance" in declined
    assert "If the balance remains unpaid, the subscription's services will be cancelled" in (
        declined
    )
    assert "What happens if the balance remains unpaid" in declined
    for case in CASES:
        for part in (renderer.render(event_for(case), "en").text,):
            text = _flat(part)
            for stale in (
                "is disabled now",
                "are stopped",
                "we charge",
                "isn't paid",
                "nobody pays",
            ):
                assert stale not in text, (case, stale)


def test_copy_expired_card_is_not_sent_to_the_bank(renderer: Renderer) -> None:
    for locale, bank in (("en", "contact your bank"), ("zh_TW", "聯絡您的發卡銀行")):
        expired = renderer.render(event_for("card_expired"), locale)
        assert bank not in _flat(expired.text) and bank not in _flat(visible(expired.html).text)
        assert says(expired.text, {"en": "enter the new expiry date", "zh_TW": "有效期限"}[locale])
        declined = renderer.render(event_for("card_declined"), locale)
        assert bank in _flat(declined.text)


# -- long unbroken values -----------------------------------------------------------------
LONG = "W" * 256
#: Every event text a reader sees, at its longest (names 256, ids 128 characters).
LONG_VALUES = {
    "admin_name": LONG,
    "account_name": LONG,
    "subscription_name": "訂" * 256,
    "subscription_id": "S" * 128,
    "event_id": "E" * 128,
}
_URL_OR_ADDRESS = re.compile(r"\S*(https?://|@)\S*")


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_copy_text_keeps_76_columns_with_long_names(
    renderer: Renderer, case: str, locale: str
) -> None:
    out = renderer.render(event_for(case, **LONG_VALUES), locale)
    for line in out.text.splitlines():
        if columns(line) > 76:
            # Only a URL or an address may be longer: those are never cut.
            assert _URL_OR_ADDRESS.fullmatch(line.strip()), line
    flat = "".join(out.text.split())
    assert all(value in flat for value in LONG_VALUES.values())
    url = SETTINGS.brand.support_url
    assert any(line.endswith(url) for line in out.text.splitlines())


class _Cells(HTMLParser):
    """The inline style of every table and cell, by class, and of each details cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.by_class: dict[str, str] = {}
        self.details: list[str] = []
        self._tables: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        style, name = a.get("style") or "", a.get("class") or ""
        if tag == "table":
            self._tables.append(name)
        if tag in ("table", "td", "th") and name:
            self.by_class[name] = style
        if tag in ("td", "th") and self._tables and self._tables[-1] == "details":
            self.details.append(style)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._tables:
            self._tables.pop()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_copy_html_breaks_long_words_in_every_cell(
    renderer: Renderer, case: str, locale: str
) -> None:
    cells = _Cells()
    cells.feed(renderer.render(event_for(case, **LONG_VALUES), locale).html)
    # The cells holding text (event values inherit the rule inside them).
    for style in [cells.by_class[n] for n in ("masthead", "card", "footer")] + cells.details:
        assert "overflow-wrap:anywhere" in style, style
        assert "word-break:break-word" in style, style
    assert len(cells.details) >= 6
    # Fixed layouts: a long value cannot widen its table past the screen.
    assert "table-layout:fixed" in cells.by_class["container"]
    assert "table-layout:fixed" in cells.by_class["details"]
