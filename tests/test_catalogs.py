"""The gettext catalogs: complete, in sync with the templates, and proper zh-TW."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from worker.render.i18n import translations

ROOT = Path(__file__).resolve().parent.parent
LOCALES_DIR = ROOT / "locales"
POT = LOCALES_DIR / "messages.pot"
LOCALES = ("en", "zh_TW")
PLURAL_FORMS = {"en": "nplurals=2; plural=(n != 1);", "zh_TW": "nplurals=1; plural=0;"}

#: Simplified-only characters and their Traditional forms. Characters that are also
#: valid Traditional characters with another meaning (后, 几, 余, 志, 台, 准, 里...) are
#: left out, or names like 陳志豪 would be flagged.
SIMPLIFIED_TO_TRADITIONAL = {
    "们": "們",
    "帐": "帳",
    "账": "賬",
    "户": "戶",
    "费": "費",
    "务": "務",
    "请": "請",
    "订": "訂",
    "邮": "郵",
    "资": "資",
    "讯": "訊",
    "银": "銀",
    "联": "聯",
    "络": "絡",
    "删": "刪",
    "过": "過",
    "还": "還",
    "这": "這",
    "为": "為",
    "时": "時",
    "关": "關",
    "现": "現",
    "单": "單",
    "页": "頁",
    "击": "擊",
    "码": "碼",
    "钱": "錢",
    "无": "無",
    "与": "與",
    "个": "個",
    "来": "來",
    "会": "會",
    "说": "說",
    "对": "對",
    "发": "發",
    "应": "應",
    "处": "處",
    "问": "問",
    "题": "題",
    "认": "認",
    "确": "確",
    "额": "額",
    "询": "詢",
    "动": "動",
    "态": "態",
    "启": "啟",
    "设": "設",
    "择": "擇",
    "选": "選",
    "网": "網",
    "号": "號",
    "数": "數",
    "据": "據",
    "计": "計",
    "划": "劃",
    "类": "類",
    "证": "證",
    "项": "項",
    "预": "預",
    "购": "購",
    "买": "買",
    "卖": "賣",
    "样": "樣",
    "实": "實",
    "际": "際",
    "总": "總",
    "结": "結",
    "统": "統",
    "给": "給",
    "让": "讓",
    "谢": "謝",
    "议": "議",
    "经": "經",
    "历": "歷",
    "场": "場",
    "业": "業",
    "产": "產",
    "员": "員",
    "线": "線",
    "级": "級",
    "达": "達",
    "运": "運",
    "营": "營",
    "币": "幣",
    "汇": "匯",
    "缴": "繳",
    "档": "檔",
    "检": "檢",
    "载": "載",
    "点": "點",
    "开": "開",
    "闭": "閉",
    "进": "進",
    "从": "從",
    "间": "間",
    "两": "兩",
    "种": "種",
    "条": "條",
    "况": "況",
    "险": "險",
    "护": "護",
    "协": "協",
    "团": "團",
    "队": "隊",
    "诚": "誠",
    "贵": "貴",
    "则": "則",
    "将": "將",
    "并": "並",
    "尽": "盡",
    "须": "須",
    "状": "狀",
    "约": "約",
    "续": "續",
    "终": "終",
    "断": "斷",
    "专": "專",
    "属": "屬",
    "验": "驗",
    "拟": "擬",
    "馈": "饋",
    "绑": "綁",
}
#: Mainland vocabulary that a Taiwanese reader would notice, and the Taiwan usage.
MAINLAND_TERMS = {
    "信息": "訊息／資訊",
    "默認": "預設",
    "郵箱": "電子郵件信箱",
    "賬戶": "帳戶",
    "賬號": "帳號",
    "激活": "啟用",
    "聯繫": "聯絡",
    "支付方式": "付款方式",
    "銀行卡": "信用卡",
    "網絡": "網路",
    "服務器": "伺服器",
    "登錄": "登入",
    "視頻": "影片",
    "軟件": "軟體",
    "質量": "品質",
    "垃圾箱": "垃圾郵件資料夾",
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")
_CJK = re.compile(r"[\u3400-\u9fff]")


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def entries(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def ids(message: Message) -> tuple[str, ...]:
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def strings(message: Message) -> tuple[str, ...]:
    return (message.string,) if isinstance(message.string, str) else tuple(message.string or ())


def placeholders(text: str) -> set[str]:
    return {m.group(0) for m in _PLACEHOLDER.finditer(text)}


@pytest.fixture(scope="module", params=LOCALES)
def po(request: pytest.FixtureRequest) -> tuple[str, Catalog]:
    locale: str = request.param
    return locale, load(LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po", locale)


@pytest.fixture(scope="module")
def zh() -> Catalog:
    return load(LOCALES_DIR / "zh_TW" / "LC_MESSAGES" / "messages.po", "zh_TW")


def test_catalog_every_entry_translated(po: tuple[str, Catalog]) -> None:
    locale, catalog = po
    assert entries(catalog)
    for message in entries(catalog):
        assert all(s.strip() for s in strings(message)), f"{locale}: {message.id!r}"


def test_catalog_has_no_fuzzy_or_obsolete_entries(po: tuple[str, Catalog]) -> None:
    locale, catalog = po
    assert not [m.id for m in entries(catalog) if m.fuzzy], locale
    assert not catalog.fuzzy, f"{locale}: the header is marked fuzzy"
    assert not catalog.obsolete, f"{locale}: obsolete entries left: {list(catalog.obsolete)}"


def test_catalog_placeholders_match(po: tuple[str, Catalog]) -> None:
    locale, catalog = po
    for message in entries(catalog):
        wanted = placeholders(ids(message)[0])
        for msgid in ids(message):
            assert placeholders(msgid) == wanted, msgid
        for msgstr in strings(message):
            assert placeholders(msgstr) == wanted, f"{locale}: {msgstr!r}"
        if wanted:
            assert "python-format" in message.flags, message.id
    # Babel's own checkers (python-format and plural count) agree.
    assert not [(m.id, errors) for m, errors in catalog.check()]


def test_catalog_plural_forms(po: tuple[str, Catalog]) -> None:
    locale, catalog = po
    header = dict(catalog.mime_headers)
    assert header["Plural-Forms"] == PLURAL_FORMS[locale]
    plurals = [m for m in entries(catalog) if m.pluralizable]
    assert plurals, "the retention sentence must be a gettext plural"
    nplurals = int(PLURAL_FORMS[locale].split(";")[0].split("=")[1])
    for message in plurals:
        assert len(strings(message)) == nplurals, message.id


def test_catalog_plural_forms_are_used_at_runtime() -> None:
    singular = "Your data will be deleted %(num)s day after the services are cancelled."
    plural = "Your data will be deleted %(num)s days after the services are cancelled."
    en = translations("en")
    assert en.ngettext(singular, plural, 1) == singular
    assert en.ngettext(singular, plural, 90) == plural
    zh = translations("zh_TW")
    assert zh.ngettext(singular, plural, 1) == zh.ngettext(singular, plural, 90)
    assert "天後" in zh.ngettext(singular, plural, 90)


def _extract(tmp_path: Path) -> Catalog:
    out = tmp_path / "fresh.pot"
    level = logging.getLogger("babel").level
    try:
        CommandLineInterface().run(
            [
                "pybabel",
                "-q",
                "extract",
                "-F",
                str(ROOT / "babel.cfg"),
                "-o",
                str(out),
                "--no-location",
                "--sort-output",
                str(ROOT),
            ]
        )
    finally:
        logging.getLogger("babel").setLevel(level)
    return load(out)


def test_catalog_pot_in_sync_with_templates(tmp_path: Path) -> None:
    fresh = {ids(m) for m in entries(_extract(tmp_path))}
    assert fresh, "nothing extracted: is babel.cfg right?"
    committed = {ids(m) for m in entries(load(POT))}
    assert fresh - committed == set(), "msgids missing from messages.pot: run pybabel extract"
    assert committed - fresh == set(), "stale msgids in messages.pot: run pybabel extract"


def test_catalog_po_files_in_sync_with_pot(po: tuple[str, Catalog]) -> None:
    locale, catalog = po
    pot = {ids(m) for m in entries(load(POT))}
    assert {ids(m) for m in entries(catalog)} == pot, f"{locale}: run pybabel update"


def test_catalog_en_keeps_the_source_wording() -> None:
    catalog = load(LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po", "en")
    for message in entries(catalog):
        assert not _CJK.search("".join(strings(message))), message.id


def test_catalog_zh_tw_is_chinese(zh: Catalog) -> None:
    for message in entries(zh):
        for msgstr in strings(message):
            assert msgstr not in ids(message), f"left in English: {msgstr!r}"
            assert _CJK.search(msgstr), f"no Chinese in {msgstr!r}"


def test_catalog_simplified_table_is_sound() -> None:
    for simplified, traditional in SIMPLIFIED_TO_TRADITIONAL.items():
        if simplified != traditional:
            assert simplified not in SIMPLIFIED_TO_TRADITIONAL.values(), simplified


def test_catalog_zh_tw_has_no_simplified_characters(zh: Catalog) -> None:
    simplified = {s for s, t in SIMPLIFIED_TO_TRADITIONAL.items() if s != t}
    for message in entries(zh):
        for msgstr in strings(message):
            found = sorted(set(msgstr) & simplified)
            assert not found, f"Simplified characters in {msgstr!r}: " + ", ".join(
                f"{c}→{SIMPLIFIED_TO_TRADITIONAL[c]}" for c in found
            )


def test_catalog_zh_tw_checks_would_catch_simplified() -> None:
    simplified = {s for s, t in SIMPLIFIED_TO_TRADITIONAL.items() if s != t}
    assert set("我们无法向您的信用卡收取费用") & simplified == {"们", "无", "费"}
    assert not set("我們無法向您的信用卡收取費用，陳志豪") & simplified


def test_catalog_zh_tw_uses_taiwan_vocabulary(zh: Catalog) -> None:
    for message in entries(zh):
        for msgstr in strings(message):
            for term, usage in MAINLAND_TERMS.items():
                assert term not in msgstr, f"{term} in {msgstr!r}: Taiwan says {usage}"
    text = "".join(s for m in entries(zh) for s in strings(m))
    for term in ("訂用帳戶", "付款方式", "垃圾郵件", "帳單", "信用卡", "發卡銀行", "支援服務"):
        assert term in text, term


def test_catalog_zh_tw_uses_full_width_punctuation(zh: Catalog) -> None:
    half_after_cjk = re.compile(r"[\u3400-\u9fff][,.:;!?]")
    half_before_cjk = re.compile(r"[,:;!?][\u3400-\u9fff]")
    for message in entries(zh):
        for msgstr in strings(message):
            assert not half_after_cjk.search(msgstr), msgstr
            assert not half_before_cjk.search(msgstr), msgstr
            assert not re.search(r"[\"()]", msgstr.replace("%(", "").replace(")s", "")), msgstr


def test_catalog_zh_tw_spells_contact_one_way(zh: Catalog) -> None:
    # 聯絡 and 連絡 are both correct; 聯絡 is the more common in Taiwan today. One of them.
    text = "".join(s for m in entries(zh) for s in strings(m))
    assert "連絡" not in text
    assert "聯絡" in text
