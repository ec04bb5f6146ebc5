"""一件事: whether a new order is the same matter, at the same place, as a recent one.

Hotline rules 第十条: reports of the same matter at the same place within 7 days are merged
and handled as one. This module only *proposes*: a caseworker confirms the merge.

Same place: the address is normalised (the address column and the text both read; Chinese
numerals as digits; "号门口/附近/旁边/路口" and the city or district prefix dropped, so
"东湖区文昌路88号门口" is "文昌路88号"), and two addresses must agree on the road and the
number (another number on the same road is another place). Without addresses, the same
community, estate or landmark text counts. Same matter: the meaning, not the same words: a
table of the matters residents report, each with the ways it is said ("路灯坏了", "灯不亮",
"路灯黑了" are one; "路灯杆撞歪了" is another), and when neither order names a known matter,
the overlap of their character pairs, places removed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tools.dispatch.location import Gazetteer, Location, extract_location, strip_places

WINDOW = timedelta(days=7)

# Matters as residents say them (generic hotline vocabulary, not one city's): name -> patterns.
MATTERS: dict[str, str] = {
    "路灯不亮": r"(路灯|灯).{0,4}(不亮|坏|黑|熄|灭|闪|没亮|故障)|(不亮|黑漆漆|黑灯瞎火).{0,3}(路灯|灯)"
    r"|照明.{0,2}(坏|没有)",
    "灯杆损坏": r"(灯杆|电线杆|路灯杆).{0,4}(歪|倒|撞|断|倾斜|松动)",
    "井盖丢失": r"井盖.{0,4}(丢|没了|不见|缺|被偷|掉了|没有)|(没有|缺).{0,2}井盖",
    "井盖异响": r"井盖.{0,8}(响|异响|哐|松|翘)",
    "井盖破损": r"井盖.{0,4}(破|碎|裂|塌|坏)",
    "停水": r"停水|没水|断水|不来水|没有水|水.{0,2}停了|自来水.{0,3}(停|断)",
    "水压低": r"水压.{0,3}(低|小|不足|不够)|水.{0,2}(很小|太小|细)|出水.{0,2}小",
    "水管漏水": r"(水管|管道|管子|自来水管).{0,6}(漏|爆|裂|破|冒水|喷水)|爆管|跑水",
    "停电": r"停电|没电|断电|跳闸|不来电",
    "燃气泄漏": r"(燃气|煤气|天然气).{0,6}(味|漏|泄)|闻到.{0,3}(燃气|煤气)",
    "下水道堵塞": r"(下水道|下水|排水|污水|管网|窨井|化粪池).{0,6}(堵|冒|溢|漫|倒灌|不通)"
    r"|污水.{0,3}(横流|漫)",
    "道路积水": r"积水|内涝|淹水|水淹",
    "夜间施工噪音": r"(夜间|晚上|半夜|深夜|凌晨|夜里).{0,8}(施工|作业|打桩|机器)|施工.{0,6}(噪音|扰民|吵)",
    "扬尘": r"扬尘|灰尘|粉尘|尘土|灰很大|漫天灰",
    "噪音扰民": r"噪音|噪声|太吵|吵得|扰民|广场舞|音响",
    "垃圾未清运": r"垃圾.{0,6}(没人|没有|未|不|堆|满|臭|清运|收)|(堆满|乱堆|乱扔).{0,3}垃圾",
    "占道经营": r"占道|摆摊|流动摊|乱摆",
    "违章停车": r"违停|乱停|违章停|占用.{0,4}(车位|消防通道|盲道)|停车.{0,4}(堵|挡)",
    "路面破损": r"(路面|道路|马路|人行道|地砖).{0,6}(坑|破|塌|裂|烂|凹)|坑洼|塌陷",
    "树木倒伏": r"(树|树枝|树木).{0,6}(倒|断|折|压|挡|歪)",
    "流浪动物": r"流浪(狗|猫|犬)|野狗|狗.{0,4}(咬|叫|追)",
    "电梯故障": r"电梯.{0,6}(坏|停|困|故障|不动|关人)",
    "信号灯故障": r"(红绿灯|信号灯|交通灯).{0,6}(坏|不亮|故障|不变|失灵)",
    "油烟": r"油烟|烧烤.{0,4}(烟|味)",
}
_MATTERS = {name: re.compile(p) for name, p in MATTERS.items()}

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
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+(?=号|栋|幢|单元|号楼|期)")


def _cn_value(text: str) -> int:
    total, current = 0, 0
    for char in text:
        if char in _DIGITS:
            current = current * 10 + _DIGITS[char] if current and text.find("十") < 0 else _DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "千":
            total += (current or 1) * 1000
            current = 0
    return total + current


def digits(text: str) -> str:
    """Chinese numerals before 号/栋/单元 as digits ("八十八号" → "88号"; "一零二号" → "102号")."""

    def convert(match: re.Match[str]) -> str:
        value = match.group(0)
        if not any(c in value for c in "十百千"):
            return "".join(str(_DIGITS[c]) for c in value)
        return str(_cn_value(value))

    return _CN_NUMBER.sub(convert, text)


_ADDRESS_KEY = re.compile(r"^(.*?(?:路|大道|街|巷|胡同|弄))(\d{1,5})号")
_BUILDING = re.compile(r"(\d{1,4})(?:号楼|幢)")
_ROAD = r"[\u4e00-\u9fff]{1,6}?(?:路|大道|街)"
_CROSSING = re.compile(rf"({_ROAD})(?:与|和|、|跟|同)?({_ROAD})(?:交叉口|交汇处|路口|十字路口)")
_LANDMARK = re.compile(
    r"([\u4e00-\u9fff]{2,8}?(?:公园|广场|医院|学校|小学|中学|大学|幼儿园|商场|市场|菜市场|车站|地铁站|公交站"
    r"|体育馆|图书馆|超市|银行|酒店|大厦|中心))([东南西北]门|[东南西北]侧|[东南西北]口)?"
)
_LEADING = re.compile(r"^(?:在|到|从|位于|就在|市民反映|反映|我家|我们)+")


@dataclass(frozen=True)
class Place:
    """Where an order is, normalised for comparing."""

    location: Location
    road: str = ""  # road of the address ("文昌路")
    number: str = ""  # its number ("88")
    estate: str = ""  # an estate address without a road ("望湖苑12栋")
    crossing: str = ""  # two roads' crossing, in a fixed order ("文昌路×学府路")
    landmark: str = ""  # a named place and its gate ("人民公园东门")

    @property
    def label(self) -> str:
        """Readable."""
        if self.road and self.number:
            return f"{self.road}{self.number}号"
        where = self.location
        return self.estate or self.crossing or self.landmark or where.community or where.street


def read_place(text: str, address: str = "", gazetteer: Gazetteer | None = None) -> Place:
    """The place of an order: its address column first, then its text."""
    source = _BUILDING.sub(r"\1栋", digits(f"{address}{text}" if address else text))
    location = extract_location(source, gazetteer)
    match = _ADDRESS_KEY.match(location.address)
    if match:
        return Place(location, match.group(1), match.group(2))
    crossing = _CROSSING.search(source)
    if crossing and not location.address:
        roads = sorted(_LEADING.sub("", r) for r in crossing.groups())
        return Place(location, "", "", "", "×".join(roads))
    landmark = _LANDMARK.search(source)
    name = f"{_LEADING.sub('', landmark.group(1))}{landmark.group(2) or ''}" if landmark else ""
    bare = not (location.address or location.community or location.street)  # a landmark stands alone
    return Place(location, location.road, "", location.address, "", name if bare else "")


def same_place(a: Location | Place, b: Location | Place) -> str:
    """The place two orders share ("" when they do not, or say too little)."""
    if isinstance(a, Location) or isinstance(b, Location):
        la = a if isinstance(a, Location) else a.location
        lb = b if isinstance(b, Location) else b.location
        return _same_location(la, lb)
    if a.number and b.number:
        return a.label if (a.road, a.number) == (b.road, b.number) else ""
    for part in ("estate", "crossing", "landmark"):  # the most precise place both give decides
        left, right = getattr(a, part), getattr(b, part)
        if left and right:
            return str(left) if left == right else ""
    if a.number or b.number or a.estate or b.estate or a.crossing or b.crossing:
        return ""  # one says a number, the other does not: not enough to merge
    return _same_location(a.location, b.location)


def _same_location(a: Location, b: Location) -> str:
    if a.address and b.address:
        return a.address if a.address == b.address else ""
    for part in ("community", "street"):
        left, right = getattr(a, part), getattr(b, part)
        if left and left == right:
            return str(left)
    return ""


# A narrower matter that a broader pattern also matches: the broader one only when said outright.
_NARROWER = {"灯杆损坏": ("路灯不亮", r"不亮|黑|熄|灭|闪"), "信号灯故障": ("路灯不亮", r"路灯")}


def matters(text: str) -> set[str]:
    """The known matters a text reports."""
    found = {name for name, pattern in _MATTERS.items() if pattern.search(text)}
    for narrow, (broad, outright) in _NARROWER.items():
        if narrow in found and broad in found and not re.search(outright, text):
            found.discard(broad)
    return found


def _pairs(text: str, gazetteer: Gazetteer | None) -> set[str]:
    chars = [c for c in strip_places(text, gazetteer) if "\u4e00" <= c <= "\u9fff" or c.isalnum()]
    return {a + b for a, b in itertools.pairwise(chars)}


def matter_similarity(a: str, b: str, gazetteer: Gazetteer | None = None) -> float:
    """1 when both name the same known matter, 0 when only different ones; else character-pair overlap."""
    ma, mb = matters(a), matters(b)
    if ma and mb:
        return 1.0 if ma & mb else 0.0
    pa, pb = _pairs(a, gazetteer), _pairs(b, gazetteer)
    if not pa or not pb:
        return 0.0
    return len(pa & pb) / min(len(pa), len(pb))


@dataclass(frozen=True)
class RecentOrder:
    """What the check needs of an existing order."""

    ticket: str
    text: str
    created_at: datetime
    address: str = ""


@dataclass(frozen=True)
class DuplicateCandidate:
    """A recent order that may be the same 一件事, and why."""

    ticket: str
    similarity: float
    place: str
    hours_apart: float


def find_duplicates(
    text: str,
    created_at: datetime,
    recent: Sequence[RecentOrder],
    *,
    address: str = "",
    gazetteer: Gazetteer | None = None,
    threshold: float = 0.5,
    window: timedelta = WINDOW,
) -> list[DuplicateCandidate]:
    """Recent orders that look like the same matter at the same place, most similar first."""
    where = read_place(text, address, gazetteer)
    found = []
    for order in recent:
        apart = abs(created_at - order.created_at)
        if apart > window:
            continue
        place = same_place(where, read_place(order.text, order.address, gazetteer))
        if not place:
            continue
        similarity = matter_similarity(text, order.text, gazetteer)
        if similarity >= threshold:
            found.append(
                DuplicateCandidate(
                    order.ticket, round(similarity, 3), place, round(apart.total_seconds() / 3600, 1)
                )
            )
    return sorted(found, key=lambda c: -c.similarity)
