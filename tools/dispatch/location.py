"""Where an order is: district, street (街道), community (社区), road and the address text.

A city's gazetteer (its districts, street offices, communities and roads, with aliases)
gives exact names; generic patterns (…区, …街道, …社区, …路12号, …小区3栋) catch what the
gazetteer lacks, so another city's orders still yield an address before its gazetteer is
loaded. A bare road ("文昌路88号那里") is placed through the gazetteer's roads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """What could be read; empty strings where the text does not say (``road`` only from a gazetteer)."""

    district: str = ""
    street: str = ""
    community: str = ""
    address: str = ""
    road: str = ""

    @property
    def known(self) -> bool:
        """Whether anything at all was found."""
        return bool(self.district or self.street or self.community or self.address or self.road)


def _alternation(names: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({n for n in names if n}, key=len, reverse=True)  # longest first: 湖滨路 before 湖滨
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


@dataclass(frozen=True)
class Gazetteer:
    """A city's place names: streets (街道) by district, communities by street, roads by street, aliases."""

    streets: dict[str, str]  # street -> district
    communities: dict[str, str]  # community -> street
    roads: dict[str, str] = field(default_factory=dict)  # road -> street ("" when it crosses several)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> a district, street, community or road
    _patterns: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        kinds = {
            "district": set(self.streets.values()),
            "street": set(self.streets),
            "community": set(self.communities),
            "road": set(self.roads),
        }
        for kind, names in kinds.items():
            names |= {a for a, canonical in self.aliases.items() if canonical in names}
            self._patterns[kind] = _alternation(names)

    @classmethod
    def from_mapping(
        cls,
        districts: Mapping[str, Mapping[str, Iterable[str]]],
        roads: Mapping[str, Iterable[str]] | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> Gazetteer:
        """From ``{district: {street: [communities]}}``, maybe ``{street: [roads]}``, ``{alias: name}``."""
        streets = {s: d for d, by_street in districts.items() for s in by_street}
        communities = {c: s for by_street in districts.values() for s, cs in by_street.items() for c in cs}
        road_streets: dict[str, str] = {}
        for street, names in (roads or {}).items():
            for road in names:
                # a road through two streets says the district at most, not the street
                road_streets[road] = street if road_streets.get(road, street) == street else ""
        return cls(streets, communities, road_streets, dict(aliases or {}))

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        """A JSON file: ``{"districts": {d: {s: [c]}}, "roads": {s: [r]}, "aliases": {a: name}}``.

        The older shape, the districts mapping alone, is read too. ``ValueError`` names what is wrong.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"gazetteer {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"gazetteer {path}: expected a JSON object")
        districts = data.get("districts", data) if "districts" in data else data
        roads, aliases = data.get("roads", {}), data.get("aliases", {})
        ok = (
            isinstance(districts, dict)
            and all(
                isinstance(v, dict) and all(isinstance(c, list) for c in v.values())
                for v in districts.values()
            )
            and isinstance(roads, dict)
            and all(isinstance(v, list) for v in roads.values())
            and isinstance(aliases, dict)
            and all(isinstance(v, str) for v in aliases.values())
        )
        if not ok:
            raise ValueError(
                f'gazetteer {path}: expected {{"districts": {{district: {{street: [community]}}}}, '
                '"roads": {street: [road]}, "aliases": {alias: name}}'
            )
        return cls.from_mapping(districts, roads, aliases)

    @property
    def districts(self) -> set[str]:
        """Every district."""
        return set(self.streets.values())

    def find(self, kind: str, text: str) -> str:
        """The first ``kind`` (district, street, community, road) named in ``text``, by its canonical name."""
        pattern: re.Pattern[str] | None = self._patterns.get(kind)
        match = pattern.search(text) if pattern else None
        if not match:
            return ""
        name = match.group(0)
        return self.aliases.get(name, name)


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
    for part in (location.address, location.community, location.street, location.road, location.district):
        if part:
            text = text.replace(part, " ")
    return text


def extract_location(text: str, gazetteer: Gazetteer | None = None) -> Location:
    """The location an order text gives, filled out from the gazetteer where a part implies another."""
    district = street = community = road = ""
    if gazetteer:
        community = gazetteer.find("community", text)
        road = gazetteer.find("road", text)
        street = (
            gazetteer.find("street", text)
            or gazetteer.communities.get(community, "")
            or gazetteer.roads.get(road, "")
        )
        district = gazetteer.find("district", text) or gazetteer.streets.get(street, "")
    district = district or _named(text, _DISTRICT_END, 4)
    street = street or _named(text, _STREET_END, 5)
    community = community or _named(text, _COMMUNITY_END, 5)
    if any(word in community for word in _NOT_PLACE) or community == "社区":
        community = ""
    address = _named(text, _ROAD_END, 6) or _named(text, _ESTATE_END, 6)
    return Location(district, street, community, address, road)


_NUMBER = re.compile(r"(\d{1,5})号")


def place_key(location: Location) -> str:
    """The place, normalised for comparing two orders: the address without district, city or "门口/附近".

    "东湖区文昌路88号门口" and "文昌路88号附近" have the same key; "文昌路90号" does not.
    """
    if location.address:
        return location.address
    if location.community:
        return location.community
    return ""
