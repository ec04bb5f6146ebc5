"""The checkable claims of a sentence: its figures and its yes/no, compared with a clause's.

* A **figure** is a number with what it counts and which way it bounds: 三分之二以上 and
  ``2/3以上`` are both ``(2/3, "", up)``; 十五分钟 and 15分钟 are ``(15, "分钟", none)``; 30% and
  百分之三十 are ``(0.3, "%", none)``; 1.5万元 is ``(15000, "元", none)``. A figure is supported by a
  text that holds the same value with the same unit (or none) and no opposite bound
  (四分之三以上 is not supported by 四分之三以下).
* A **polarity** is which side a sentence takes on one question: is there a fee (免收 / 收费), is it
  allowed (可以 / 不得), is it required (需要 / 无需). :func:`contradicts` finds the part of the clause
  the sentence speaks to (the one whose bound its own figure meets — 十分钟 meets 不满15分钟 — else the
  one sharing most words) and says whether that part takes the other side.

Plain regular expressions, no model: a sentence costs microseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Bound = Literal["up", "down", ""]

_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_SCALES = {"十": 10, "百": 100, "千": 1000}
_CN = "零〇一二两三四五六七八九十百千"
_NUM = rf"(?:\d+(?:\.\d+)?|[{_CN}]+)"
_UNITS = (
    "万元|元|块钱|块|周岁|岁|个工作日|工作日|个月|月|年|周|星期|天|日|小时|分钟|户|人次|人|名|位|次|倍|"
    "平方米|米|公里|层|套|间|辆|项|份|级|个百分点|%"
)
_BOUND_UP = r"以上|及以上|不少于|不低于|至少|超过|高于|多于|满"
_BOUND_DOWN = r"以下|及以下|不超过|不高于|最多|至多|以内|内|不满|未满|不足|少于|低于"
_FIGURE = re.compile(
    rf"(?P<pre>不少于|不低于|至少|超过|高于|多于|不超过|不高于|最多|至多|不满|未满|不足|少于|低于|满)?"
    rf"(?:(?P<pct>百分之){_NUM}|(?P<apct>\d+(?:\.\d+)?)\s*[%％]|(?P<den>{_NUM})分之(?P<num>{_NUM})|(?P<a>\d+)\s*/\s*(?P<b>\d+)|(?P<val>{_NUM}))"
    rf"\s*(?P<unit>{_UNITS})?(?P<post>{_BOUND_UP}|{_BOUND_DOWN})?"
)
_ORDINAL = re.compile(rf"第{_NUM}[条款项章节次批届]?|{_NUM}[条款](?![件])")
# a bare Chinese numeral is a figure only with a unit: 一起, 一律, 一般, 十分 are words
_WEAK_CN_UNITS = {"次", "项", "份", "位", "名", "间", "层", "套", "级", "倍"}


# units written two ways: (factor, the one kept)
_SAME_UNIT = {
    "万元": (10000, "元"), "块钱": (1, "元"), "块": (1, "元"), "周岁": (1, "岁"), "个工作日": (1, "工作日"),
    "日": (1, "天"), "星期": (1, "周"),
}  # fmt: skip


@dataclass(frozen=True)
class Figure:
    """A number as a claim: its value, what it counts, which way it bounds."""

    value: float
    unit: str
    bound: Bound
    text: str


def number(text: str) -> float | None:
    """An Arabic or Chinese numeral's value (十五 -> 15, 两千 -> 2000, 1.5 -> 1.5)."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or any(c not in _DIGITS and c not in _SCALES for c in text):
        return None
    total, digit = 0, 0
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        else:
            total += (digit or 1) * _SCALES[char]
            digit = 0
    return float(total + digit)


def _bound(pre: str | None, post: str | None) -> Bound:
    word = post or pre or ""
    if not word:
        return ""
    return "up" if re.fullmatch(_BOUND_UP, word) else "down"


def figures(text: str) -> list[Figure]:
    """The figures a text states (article numbers 第三条 are not figures)."""
    text = _ORDINAL.sub(" ", text)
    found: list[Figure] = []
    for m in _FIGURE.finditer(text):
        unit = m.group("unit") or ""
        bound = _bound(m.group("pre"), m.group("post"))
        if m.group("pct"):
            raw = re.search(rf"百分之({_NUM})", m.group(0))
            value = number(raw.group(1)) if raw else None
            unit = "%"
        elif m.group("apct"):
            value, unit = float(m.group("apct")), "%"
        elif m.group("den"):
            den, num = number(m.group("den")), number(m.group("num"))
            value = num / den if den and num is not None else None
        elif m.group("a"):
            value = float(m.group("a")) / float(m.group("b")) if float(m.group("b")) else None
        else:
            raw_value = m.group("val")
            cjk = not raw_value[0].isdigit()
            if cjk and (not unit or (raw_value in ("一", "两") and unit in _WEAK_CN_UNITS)):
                continue
            value = number(raw_value)
        if value is None:
            continue
        scale, unit = _SAME_UNIT.get(unit, (1, unit))
        found.append(Figure(round(value * scale, 6), unit, bound, m.group(0)))
    return found


def supported(figure: Figure, evidence: list[Figure]) -> bool:
    """Whether the evidence states this figure: same value, same unit (or one has none), no opposite bound."""
    return any(
        e.value == figure.value
        and (e.unit == figure.unit or not e.unit or not figure.unit)
        and not (e.bound and figure.bound and e.bound != figure.bound)
        for e in evidence
    )


# one question each: which side a sentence takes (the negative side is read first: 不收费 holds 收费)
_SIDES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "fee": (
        re.compile(r"免收|免费|免交|免缴|免于缴|不收(?:取)?(?:任何)?(?:停车)?费?|不用(?:交|缴|付)|无需(?:缴|交|付)|"
                   r"不需要(?:交|缴|付)|不要钱|不花钱|不计费"),
        re.compile(r"收费|收取|要收|要交|要缴|需(?:要)?(?:缴纳|交纳|缴费|交费|付费)|缴纳.{0,4}费|付费|计费"),
    ),
    "allowed": (
        re.compile(r"不得|不能|不可以|不可|禁止|不允许|不准|不予"),
        re.compile(r"可以|能够|允许|准予|予以|可(?=申请|办理|提取|领取|享受)|能(?=申请|办理|提取|领取|享受)"),
    ),
    "required": (
        re.compile(r"不需要|无需|不必|无须|不用|免于|不要求"),
        re.compile(r"需要|必须|应当|须|要求"),
    ),
}  # fmt: skip


def side(text: str, question: str) -> Literal["no", "yes", ""]:
    """Which side ``text`` takes on ``question`` (one of ``_SIDES``), or none (both, or neither)."""
    negative, positive = _SIDES[question]
    no = bool(negative.search(text))
    yes = bool(positive.search(negative.sub("", text)))
    if no == yes:
        return ""
    return "no" if no else "yes"


def _pairs(text: str) -> set[str]:
    runs = re.findall(r"[\u4e00-\u9fff]+", text)
    return {r[i : i + 2] for r in runs for i in range(len(r) - 1)}


def _meets(figure: Figure, bound: Figure) -> bool:
    """Whether a stated amount (十分钟) falls within a clause's bounded figure (不满15分钟)."""
    if not bound.bound or figure.bound or (figure.unit != bound.unit):
        return False
    return figure.value >= bound.value if bound.bound == "up" else figure.value <= bound.value


def contradicts(sentence: str, clause: str, question: str = "") -> str | None:
    """The part of ``clause`` that ``sentence`` takes the other side of, if any.

    For each yes/no question the sentence answers, the clause's parts that answer it too are
    candidates; the one the sentence speaks to is the one whose bound a figure of the sentence (or
    the resident's question) meets, else the one sharing most word pairs (the polarity words aside).
    Only when that part takes the other side, and no part taking the sentence's side fits as well,
    is the sentence contradicted.
    """
    parts = [p for p in re.split(r"[。；;！!？?\n]", clause) if p.strip()]
    stated = figures(sentence) + figures(question)
    for name, (negative, positive) in _SIDES.items():
        mine = side(sentence, name)
        if not mine:
            continue
        answering = [(p, s) for p in parts if (s := side(p, name))]
        if not answering:
            continue
        met = [(p, s) for p, s in answering if any(_meets(f, b) for f in stated for b in figures(p))]
        if met:
            if all(s != mine for _, s in met):
                return met[0][0]
            continue

        def overlap(part: str, neg: re.Pattern[str] = negative, pos: re.Pattern[str] = positive) -> int:
            return len(_pairs(pos.sub("", neg.sub("", part))) & _pairs(sentence))

        best_other = max((overlap(p) for p, s in answering if s != mine), default=-1)
        best_same = max((overlap(p) for p, s in answering if s == mine), default=-1)
        if best_other > best_same and best_other > 0:
            return next(p for p, s in answering if s != mine and overlap(p) == best_other)
    return None
