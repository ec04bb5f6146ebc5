"""Facts in an answer: the key figures it must state, and the figures no clause it cites holds.

Written apart from the assistant's own guard (``agents/resident/claims.py``) so the measurement
does not share the guard's blind spots: figures are read with a small reader of its own, values
compared, not spellings (``三分之二`` = ``2/3``, ``百分之三十`` = ``30%``, ``十五日`` = ``15日``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_CN = "零〇一二两三四五六七八九十百千万亿"
# a Chinese number only counts before a unit of measure (一律, 一般, 第一 are not figures)
_MEASURE = (
    "个工作日|个月|周岁|工作日|小时|分钟|平方米|万元|千元|元|岁|日|天|年|周|月|户|人|次|张|份|项|倍|"
    "公里|米|层|台|辆|套"
)
_FRACTION = re.compile(rf"([{_CN}\d]+)分之([{_CN}\d]+)")
_PERCENT = re.compile(rf"百分之([{_CN}\d.]+)|(\d+(?:\.\d+)?)\s*[%％]")
_SLASH = re.compile(r"(?<![\d/])(\d+)\s*/\s*(\d+)(?![\d/])")
_ARABIC = re.compile(r"\d+(?:\.\d+)?")
_CHINESE = re.compile(rf"(?<![第{_CN}])([{_CN}]+)(?=(?:{_MEASURE}))")


def chinese_number(text: str) -> float | None:
    """``三千``→3000, ``十五``→15, ``一万二千``→12000; digits pass through; None when it is no number."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, section, digit = 0, 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in ("万", "亿"):
            section = (section + (digit or 0)) * _UNITS[char]
            total, section, digit = total + section, 0, None
        elif char in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            return None
    return float(total + section + (digit or 0))


def figures(text: str) -> set[float]:
    """The values of the figures in ``text``: counts, amounts, ages, time limits, fractions, shares."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    found: set[float] = set()
    rest = text
    for match in _FRACTION.finditer(text):
        below, above = chinese_number(match.group(1)), chinese_number(match.group(2))
        if below and above is not None:
            found.add(round(above / below, 4))
    rest = _FRACTION.sub(" ", rest)
    for match in _PERCENT.finditer(rest):
        value = chinese_number(match.group(1) or match.group(2))
        if value is not None:
            found.add(round(value / 100, 4))
    rest = _PERCENT.sub(" ", rest)
    for match in _SLASH.finditer(rest):
        below = float(match.group(2))
        if below and not re.search(r"\d{4}\s*/\s*\d{1,2}", match.group(0)):  # 2024/5 is a date
            found.add(round(float(match.group(1)) / below, 4))
    rest = _SLASH.sub(" ", rest)
    for match in _CHINESE.finditer(rest):
        value = chinese_number(match.group(1))
        if value is not None:
            found.add(value)
    for match in _ARABIC.finditer(_CHINESE.sub(" ", rest)):
        found.add(float(match.group(0)))
    return found


def key_fact_recall(answer: str, key_facts: Sequence[str]) -> float:
    """The share of key facts the answer states (a fact with figures counts when its values are there)."""
    if not key_facts:
        return 1.0
    have = figures(answer)
    squeezed = re.sub(r"\s", "", answer)
    hits = 0
    for fact in key_facts:
        wanted = figures(fact)
        if re.sub(r"\s", "", fact) in squeezed or (wanted and wanted <= have):
            hits += 1
    return hits / len(key_facts)


def unsupported_figures(answer: str, clauses: Iterable[str], question: str = "") -> set[float]:
    """Figures of the answer found in none of the clauses it cites nor in the question."""
    allowed = figures(question)
    for text in clauses:
        allowed |= figures(text)
    # clause numbers (第十二条), the citation brackets, a document's name (《…2025年…》) and a list's
    # numbering at the start of a line ("1. ", "2、", "（三）") are not facts of the answer
    body = re.sub(r"〔[^〕]*〕|《[^《》]*》|第[\d" + _CN + r"]+[条款项章节]", " ", answer)
    body = re.sub(r"(?m)^\s*(?:\d{1,2}\s*[.、)）]|[（(][" + _CN + r"\d]{1,3}[)）])", " ", body)
    return {value for value in figures(body) if value not in allowed}
