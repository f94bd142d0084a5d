"""Chinese text as pinyin: initials for keyboard-free search, tone numbers for reading aloud.

pypinyin reads whole phrases, so most polyphonic characters come out right (重大 zhòng, 重新
chóng, 会计 kuài); the phrases below fix the ones it misreads in village texts. Its dictionaries
take about 55 MB, so they are loaded on first use: the screens never need them, only installing
content (search initials) and reading aloud do.
"""

from __future__ import annotations

import re
from functools import cache
from types import ModuleType

_PHRASES = {
    "还款": [["huán"], ["kuǎn"]],
    "还贷": [["huán"], ["dài"]],
    "归还": [["guī"], ["huán"]],
    "退还": [["tuì"], ["huán"]],
    "偿还": [["cháng"], ["huán"]],
    "返还": [["fǎn"], ["huán"]],
}


@cache
def _pypinyin() -> ModuleType:
    import pypinyin

    pypinyin.load_phrases_dict(_PHRASES)
    return pypinyin


HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))  # CJK extension A, unified, compatibility
HAN = re.compile("[" + "".join(f"{chr(start)}-{chr(end)}" for start, end in HAN_RANGES) + "]")  # one Chinese character


def is_han(character: str) -> bool:
    return bool(HAN.fullmatch(character))


def initials(text: str) -> str:
    """Return the pinyin initial of every Chinese character, lower case: '低保申请' -> 'dbsq'.

    Latin letters and digits are kept (lower case); everything else is dropped.
    """
    letters = []
    pypinyin = _pypinyin()
    for part in pypinyin.lazy_pinyin(text, style=pypinyin.Style.FIRST_LETTER, errors="default"):
        letters.append("".join(ch for ch in part.lower() if ch.isascii() and ch.isalnum()))
    return "".join(letters)


def tone_syllables(text: str) -> list[str]:
    """Return *text* as tone-numbered syllables ('zhong4', neutral tone 5); other text as it is."""
    pypinyin = _pypinyin()
    syllables: list[str] = pypinyin.lazy_pinyin(
        text, style=pypinyin.Style.TONE3, neutral_tone_with_five=True, errors="default"
    )
    return syllables


def slug(text: str, limit: int = 40) -> str:
    """Return an id for *text* as the schemas want it: pinyin, two characters to a word, hyphens between.

    '最低生活保障申请' -> 'zuidi-shenghuo-baozhang-shenqing'; runs of Latin letters and digits are words
    of their own; anything else separates words. At most *limit* characters, cut at a hyphen.
    """
    words: list[str] = []
    for run in re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+", text):
        if run.isascii():
            words.append(run.lower())
            continue
        syllables = _pypinyin().lazy_pinyin(run)
        words += ["".join(syllables[n : n + 2]) for n in range(0, len(syllables), 2)]
    result = ""
    for word in words:
        if len(result) + len(word) + 1 > limit and result:
            break
        result = f"{result}-{word}" if result else word[:limit]
    return result
