"""Chinese and Japanese notices (Coremail, localized Exchange, ISP MTAs) flufl.bounce misses."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from worker.bounces.mta.base import ADDRESS, Family, Found, clean, notice_only

# None of flufl.bounce's English-keyed heuristics fire on these: the addresses follow a
# sentence such as 未能成功投递 ("could not be delivered") or 配信できませんでした.
_INTRO: Final = re.compile(
    r"未能成功投递|无法投递|無法傳遞|未能傳遞|傳遞失敗|投递失败|无法送达|無法送達"
    r"|配信できませんでした|送信できませんでした|宛先不明"
)


def detect(msg: Message, text: str, exclude: set[str]) -> list[Found]:
    """Addresses listed after a Chinese/Japanese "could not be delivered" sentence."""
    notice = notice_only(text)
    intro = _INTRO.search(notice)
    if intro is None:
        return []
    found: list[Found] = []
    for raw in ADDRESS.findall(notice[intro.end() :]):
        addr = clean(raw, exclude)
        if addr and all(f.address != addr for f in found):
            found.append(Found(addr, "failed"))
    return found


FAMILY: Final = Family("cjk_notice", lambda msg, text: bool(_INTRO.search(text)), detect)
