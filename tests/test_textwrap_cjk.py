"""Plain-text wrapping with CJK characters counted as two columns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from worker.render.textwrap_cjk import CLOSERS, columns, wrap, wrap_cjk

WORDS = st.lists(st.text(alphabet="abcdefghij:/.-@", min_size=1, max_size=30), max_size=40)


@hsettings(max_examples=200, deadline=None)
@given(WORDS, st.integers(min_value=10, max_value=90), st.sampled_from(["", "- "]))
def test_textwrap_cjk_ascii_fast_path_equals_the_general_loop(
    words: list[str], width: int, first: str
) -> None:
    text = "  ".join(words)
    rest = " " * len(first)
    assert wrap(text, width, first, rest) == wrap_cjk(text, width, first, rest)


def test_textwrap_cjk_counts_wide_characters_twice_and_never_starts_with_a_closer() -> None:
    text = "我們已無法就您的訂用帳戶向您的信用卡收取費用。為避免服務中斷，請更新您的付款資訊。" * 3
    lines = wrap(text, 40).split("\n")
    assert len(lines) > 1
    assert all(columns(line) <= 40 for line in lines)
    assert not any(line[0] in CLOSERS for line in lines)
    assert "".join(lines) == text


def test_textwrap_cjk_keeps_urls_and_dates_whole() -> None:
    url = "https://billing.example.com/payment-methods?subscription=sub-1234567890"
    out = wrap(f"請前往 {url} 更新付款方式，期限為 2026年7月4日。" * 2, 30)
    assert url in out.split("\n")
    assert all("2026年7月4日" in line for line in out.split("\n") if "2026" in line)


def test_textwrap_cjk_never_ends_a_paragraph_on_a_lone_character() -> None:
    text = "您收到這封郵件，是因為您是「志豪工程顧問股份有限公司」的帳戶管理員及帳單聯絡人。"
    lines = wrap(text).split("\n")
    assert len(lines) == 2
    assert columns(lines[-1]) >= 6 and all(columns(line) <= 76 for line in lines)
    assert "".join(lines) == text
    # Latin text keeps its breaks: a short last word is a normal line end.
    assert wrap("word " * 15 + "it.", 76).endswith("\nit.")
