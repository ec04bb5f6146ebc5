"""The city's units by every name they go by, and the units renamed or merged over the years.

A call-taker's note names the unit in a short or colloquial form ("请交警部门核实处理",
"请住建局跟进", "民生燃气公司"). :class:`UnitNames` maps such mentions to the unit's current
name: from the city's directory (a CSV of ``unit,alias``), from short forms derived from the
full names (the city or district prefix dropped, the usual abbreviations of Chinese
administration: 住房和城乡建设 → 住建), and from the history itself (mentions that, in past
orders, nearly always went to one unit). A rename map (``old,new``) sends a unit's old names
to its current one, in the labels and in the mentions.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tools.csvio import decode_text

# Abbreviations of Chinese administration (not of any one city): the long form -> short forms.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "住房和城乡建设": ("住建",),
    "人力资源和社会保障": ("人社",),
    "市场监督管理": ("市场监管", "市监"),
    "交通警察": ("交警",),
    "生态环境": ("环保", "生态环境"),
    "城市管理": ("城管",),
    "卫生健康": ("卫健", "卫生"),
    "自然资源和规划": ("自然资源", "规划"),
    "文化广电旅游": ("文旅", "文广旅"),
    "文化和旅游": ("文旅",),
    "应急管理": ("应急",),
    "医疗保障": ("医保",),
    "住房公积金管理中心": ("公积金中心", "公积金"),
    "残疾人联合会": ("残联",),
    "工业和信息化": ("工信",),
    "政务服务管理": ("政务服务", "政务"),
    "农业农村": ("农业",),
    "退役军人事务": ("退役军人",),
    "发展和改革": ("发改",),
    "科学技术": ("科技",),
    "供电": ("电力", "供电"),
    "燃气": ("燃气",),
    "供水": ("自来水", "供水"),
}
# Short forms that name a unit even alone ("已转城管核实"); the others are ordinary words too (燃气, 规划).
BARE = frozenset({"交警", "住建", "城管", "人社", "医保", "残联", "市监", "卫健", "文旅", "工信", "发改"})
_COMPANY_TAIL = re.compile(r"(集团)?(有限责任公司|有限公司|股份有限公司)$")
_MENTION = re.compile(
    r"([\u4e00-\u9fff]{2,8}?(?:部门|局|公司|中心|支队|大队|派出所|办事处|委员会|委|办|所|站))"
)
_LEAD = re.compile(r"^(?:请|由|转|交|送|联系|致电|反映给|已转|建议|希望|要求|需)+")


def read_renames(path: Path) -> dict[str, str]:
    """``old,new`` rows (a header ``old,new``/``旧名称,新名称`` is skipped); ``ValueError`` names the line."""
    renames: dict[str, str] = {}
    rows = csv.reader(decode_text(path.read_bytes(), str(path)).splitlines())
    for line, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f"{path} line {line}: expected 'old name,new name', got {row!r}")
        old, new = row[0].strip(), row[1].strip()
        if line == 1 and old.lower() in ("old", "旧名称", "原名称"):
            continue
        renames[old] = new
    return renames


def current_name(name: str, renames: dict[str, str]) -> str:
    """Follow renames (A→B→C gives C); a cycle stops where it would repeat."""
    seen = {name}
    while name in renames and renames[name] not in seen:
        name = renames[name]
        seen.add(name)
    return name


def short_names(unit: str) -> set[str]:
    """Forms a unit is called by: without the city/district prefix, abbreviated, with "部门" for "局"."""
    core = _COMPANY_TAIL.sub("公司", unit)
    core = re.sub(r"^.{0,6}?[市区县](?=[\u4e00-\u9fff]{2,})", "", core) if len(core) > 4 else core
    names = {core}
    for long, shorts in ABBREVIATIONS.items():
        if long in core:
            for short in shorts:
                names.add(core.replace(long, short))
                names.add(short + "部门")
                if short in BARE:
                    names.add(short)
    for name in list(names):
        for suffix in ("管理局", "局", "委员会", "支队", "公司", "中心"):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                names.add(name[: -len(suffix)] + "部门")
    return {n for n in names if (len(n) >= 3 or n in BARE) and n != unit}


@dataclass
class UnitNames:
    """Mentions → the unit's current name."""

    units: list[str] = field(default_factory=list)  # current names, in label order
    aliases: dict[str, str] = field(default_factory=dict)  # alias (and full name) -> current name
    mined: dict[str, str] = field(default_factory=dict)  # the aliases learned from history
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        units: Iterable[str],
        *,
        directory: dict[str, set[str]] | None = None,
        renames: dict[str, str] | None = None,
    ) -> UnitNames:
        """From the units of a history, the city's directory (unit -> aliases) and its rename map."""
        renames = renames or {}
        current = sorted({current_name(u, renames) for u in units})
        aliases: dict[str, str] = {}
        claimed: Counter[str] = Counter()
        candidates: list[tuple[str, str]] = []
        for unit in current:
            for alias in {unit} | short_names(unit):
                candidates.append((alias, unit))
        for old, new in renames.items():
            target = current_name(new, renames)
            candidates += [(old, target)] + [(a, target) for a in short_names(old)]
        for unit, names in (directory or {}).items():
            target = current_name(unit, renames)
            candidates += [(a, target) for a in names | {unit}]
        for alias, _ in set(candidates):
            claimed[alias] += 1
        for alias, unit in candidates:
            if claimed[alias] == 1 or alias == unit:  # an alias two units share names neither
                aliases[alias] = unit
        return cls(current, aliases)

    @staticmethod
    def read_directory(path: Path) -> dict[str, set[str]]:
        """A CSV of ``unit,alias[,alias…]`` rows (a header row starting ``unit`` or ``单位`` is skipped)."""
        directory: dict[str, set[str]] = defaultdict(set)
        rows = csv.reader(decode_text(path.read_bytes(), str(path)).splitlines())
        for line, row in enumerate(rows, start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            if line == 1 and cells[0].lower() in ("unit", "单位", "单位名称", "name"):
                continue
            if len(cells) < 2:
                raise ValueError(f"{path} line {line}: expected 'unit,alias[,alias…]', got {row!r}")
            directory[cells[0]] |= set(cells[1:])
        return dict(directory)

    def mine(
        self, texts: Sequence[str], labels: Sequence[str], *, min_count: int = 3, purity: float = 0.8
    ) -> None:
        """Learn mentions: a unit-like phrase seen ``min_count``+ times, ``purity`` of them for one unit."""
        seen: dict[str, Counter[str]] = defaultdict(Counter)
        for text, label in zip(texts, labels, strict=True):
            for phrase in set(_phrases(text)):
                seen[phrase][label] += 1
        for phrase, by_unit in seen.items():
            total = sum(by_unit.values())
            unit, count = by_unit.most_common(1)[0]
            if total >= min_count and count / total >= purity and phrase not in self.aliases:
                self.mined[phrase] = unit
        self._pattern = None

    def mentioned(self, text: str) -> set[str]:
        """The units ``text`` names, by their current names."""
        pattern = self._compiled()
        return {self._lookup(m.group(0)) for m in pattern.finditer(text)} if pattern else set()

    def _lookup(self, alias: str) -> str:
        return self.aliases.get(alias) or self.mined[alias]

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None:
            names = sorted(set(self.aliases) | set(self.mined), key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, names))) if names else None
        return self._pattern

    def mention_matrix(self, texts: Sequence[str], classes: Sequence[str]) -> npt.NDArray[np.float64]:
        """Rows: orders; columns: ``classes``; 1 where the order names the unit."""
        index = {c: i for i, c in enumerate(classes)}
        result = np.zeros((len(texts), len(classes)))
        for row, text in enumerate(texts):
            for unit in self.mentioned(text):
                if unit in index:
                    result[row, index[unit]] = 1.0
        return result


def _phrases(text: str) -> list[str]:
    found = []
    for match in _MENTION.finditer(text):
        phrase = _LEAD.sub("", match.group(1))
        if len(phrase) >= 3:
            found.append(phrase)
    return found
