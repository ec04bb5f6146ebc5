"""Where an order is: district, street (街道), community (社区) and the address text.

A city's gazetteer (its districts, street offices and communities) gives exact names;
generic patterns (…区, …街道, …社区, …路12号, …小区3栋) catch what the gazetteer lacks,
so another city's orders still yield an address before its gazetteer is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_BOUNDARY = re.compile(r"[省市县区镇乡]|街道|社区|[：:，,。；;、\s（）()]")
_DISTRICT_END = re.compile(r"(?<![社小景])(?:区|县)")  # 社区, 小区, 景区 are not districts
_STREET_END = re.compile(r"街道")
_COMMUNITY_END = re.compile(r"社区")
_ROAD_END = re.compile(r"(?:路|大道|街|巷|胡同|弄)\d{1,5}号(?:\d{1,3}(?:栋|幢|号楼))?")
_ESTATE_END = re.compile(
    r"(?:小区|花园|家园|苑|新村|公寓|山庄|名居|雅居|佳园|居|园)(?:[一二三四五六七八九十\d]+期)?\d{1,4}(?:栋|幢|号楼)"
)
_NOT_PLACE = ("社区卫生", "小区门口")


@dataclass(frozen=True)
class Location:
    """What could be read; empty strings where the text does not say."""

    district: str = ""
    street: str = ""
    community: str = ""
    address: str = ""

    @property
    def known(self) -> bool:
        """Whether anything at all was found."""
        return bool(self.district or self.street or self.community or self.address)


@dataclass(frozen=True)
class Gazetteer:
    """A city's place names: districts, streets (街道) by district, communities and roads by street.

    ``aliases`` map another way of writing a place (东湖, 湖滨街) to its name in the gazetteer.
    """

    streets: dict[str, str]  # street -> district
    communities: dict[str, str]  # community -> street
    roads: dict[str, str] = field(default_factory=dict)  # road -> street
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> district, street or community

    @classmethod
    def from_mapping(cls, districts: dict[str, dict[str, Iterable[str]]]) -> Gazetteer:
        """From ``{district: {street: [communities]}}``."""
        streets = {s: d for d, by_street in districts.items() for s in by_street}
        communities = {c: s for by_street in districts.values() for s, cs in by_street.items() for c in cs}
        return cls(streets, communities)

    @property
    def districts(self) -> set[str]:
        """Every district."""
        return set(self.streets.values())


def _named(text: str, marker: re.Pattern[str], longest: int = 6) -> str:
    """The first name ending in ``marker``: up to ``longest`` characters before it, cut at a boundary."""
    for match in marker.finditer(text):
        head = text[max(0, match.start() - longest) : match.start()]
        cuts = [m.end() for m in _BOUNDARY.finditer(head)]
        name = head[cuts[-1] :] if cuts else head
        if len(name) >= 1 and re.fullmatch(r"[\u4e00-\u9fff\dA-Za-z]+", name):
            return name + match.group(0)
    return ""


def strip_places(text: str, gazetteer: Gazetteer | None = None) -> str:
    """The text without the places it names (they say where, not what)."""
    location = extract_location(text, gazetteer)
    for part in (location.address, location.community, location.street, location.district):
        if part:
            text = text.replace(part, " ")
    return text


def extract_location(text: str, gazetteer: Gazetteer | None = None) -> Location:
    """The location an order text gives, filled out from the gazetteer where a part implies another."""
    district = street = community = ""
    if gazetteer:
        named = {name for alias, name in gazetteer.aliases.items() if alias in text}
        community = next((c for c in gazetteer.communities if c in text or c in named), "")
        road = next((r for r in gazetteer.roads if r in text), "")
        street = (
            next((s for s in gazetteer.streets if s in text or s in named), "")
            or gazetteer.communities.get(community, "")
            or gazetteer.roads.get(road, "")
        )
        district = next(
            (d for d in gazetteer.districts if d in text or d in named), ""
        ) or gazetteer.streets.get(street, "")
    district = district or _named(text, _DISTRICT_END, 4)
    street = street or _named(text, _STREET_END, 5)
    community = community or _named(text, _COMMUNITY_END, 5)
    if any(word in community for word in _NOT_PLACE) or community == "社区":
        community = ""
    address = _named(text, _ROAD_END, 6) or _named(text, _ESTATE_END, 6)
    return Location(district, street, community, address)
