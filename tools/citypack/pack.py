"""A city pack: one folder of a city's own facts, checked as a whole before anything is loaded.

::

    city.yaml        name, assistant, hotline, ticket prefix, time zone, region, which file is the 权责清单
    hotline.yaml     urgency levels with dispatch and closing deadlines, calendar, duplicate window
    gazetteer.yaml   districts → streets → communities and roads, with aliases
    documents/       policy and service documents (Markdown with 第X条 articles, or txt/html/docx/pdf)
    orders.yaml      past hotline orders: the CSV file and its column mapping (empty: no history yet)
    enterprises/     enterprise data (CSV or Parquet)
    rules/           subsidy rules (YAML)
    services.yaml    the request types offered over Open311 GeoReport v2, with their attributes (optional)

:func:`check_pack` reads every file and returns every problem (file, line, message); it stores nothing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tools.citypack.errors import CityPackError, Problem
from tools.citypack.marks import line_at, message, read_yaml
from tools.citypack.models import CityFile, GazetteerFile, HotlineFile, OrdersFile, ServicesFile
from tools.csvio import decode_text
from tools.dispatch.duties import DutyTable
from tools.dispatch.location import Gazetteer

if TYPE_CHECKING:
    from tools.enterprises.dictionary import Dictionary

READABLE = {".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".pdf"}
_ARTICLE = re.compile(r"^\s*第[一二三四五六七八九十百零〇\d]+条", re.MULTILINE)
_REGION = re.compile(r"^(?:地区|适用地区)[：:]\s*(\S+)", re.MULTILINE)
MAX_ROW_PROBLEMS = 20


@dataclass(frozen=True)
class CityPack:
    """A pack that passed :func:`check_pack`."""

    root: Path
    city: CityFile
    hotline: HotlineFile
    gazetteer: GazetteerFile
    orders: OrdersFile | None
    services: ServicesFile | None = None

    @property
    def documents_dir(self) -> Path:
        """The policy and service documents."""
        return self.root / "documents"

    @property
    def duty_list(self) -> Path:
        """The responsibility list (权责清单) document."""
        return self.root / self.city.duty_list

    @property
    def orders_file(self) -> Path | None:
        """The past orders' CSV, when the pack has one."""
        return self.root / self.orders.file if self.orders else None

    @property
    def enterprises_dir(self) -> Path:
        """Enterprise data files."""
        return self.root / "enterprises"

    @property
    def rules_dir(self) -> Path:
        """Subsidy rule files."""
        return self.root / "rules"

    @property
    def dictionary_file(self) -> Path:
        """The enterprise data dictionary (``enterprise_fields.yaml``)."""
        return self.root / "enterprise_fields.yaml"

    def enterprise_files(self) -> list[Path]:
        """The enterprise exports (CSV or Parquet), sorted."""
        folder = self.enterprises_dir
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".parquet", ".pq"))

    def rule_files(self) -> list[Path]:
        """The subsidy rule files, sorted."""
        folder = self.rules_dir
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def to_gazetteer(file: GazetteerFile) -> Gazetteer:
    """``gazetteer.yaml`` as a :class:`Gazetteer`."""
    streets: dict[str, str] = {}
    communities: dict[str, str] = {}
    roads: dict[str, str] = {}
    shared: set[str] = set()
    aliases: dict[str, str] = {}
    for district, d in file.districts.items():
        aliases.update(dict.fromkeys(d.aliases, district))
        for street, s in d.streets.items():
            streets[street] = district
            communities.update(dict.fromkeys(s.communities, street))
            aliases.update(dict.fromkeys(s.aliases, street))
            for road in s.roads:
                if road in roads and roads[road] != street:
                    shared.add(road)
                roads[road] = street
    return Gazetteer(streets, communities, {r: s for r, s in roads.items() if r not in shared}, aliases)


def check_pack(root: Path) -> tuple[CityPack | None, list[Problem]]:
    """Every problem of the pack at ``root`` (and the pack when there is none); nothing is stored."""
    problems: list[Problem] = []
    if not root.is_dir():
        return None, [Problem(str(root), None, "not a folder")]
    city = read_yaml(root / "city.yaml", CityFile, "city.yaml", problems)
    hotline = read_yaml(root / "hotline.yaml", HotlineFile, "hotline.yaml", problems)
    gazetteer = read_yaml(root / "gazetteer.yaml", GazetteerFile, "gazetteer.yaml", problems)
    orders = _read_orders(root, problems)
    services = _read_services(root, problems)
    _check_documents(root, city, problems)
    departments = _check_duty_list(root, city, problems)
    if orders is not None:
        _check_orders(root, orders, departments, problems)
    check_enterprises(root, problems)
    check_rules(root, problems)
    if problems or city is None or hotline is None or gazetteer is None:
        return None, problems
    return CityPack(root, city, hotline, gazetteer, orders, services), []


def read_pack(root: Path) -> CityPack:
    """The checked pack; :class:`CityPackError` listing every problem otherwise."""
    pack, problems = check_pack(root)
    if pack is None:
        raise CityPackError(str(root), problems)
    return pack


def _read_orders(root: Path, problems: list[Problem]) -> OrdersFile | None:
    path = root / "orders.yaml"
    if not path.is_file() or all(
        not line.strip() or line.lstrip().startswith("#")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    ):
        return None  # no history yet
    return read_yaml(path, OrdersFile, "orders.yaml", problems)


def _read_services(root: Path, problems: list[Problem]) -> ServicesFile | None:
    path = root / "services.yaml"
    if not path.is_file():
        return None  # the city offers no Open311 services (yet)
    return read_yaml(path, ServicesFile, "services.yaml", problems)


def _check_documents(root: Path, city: CityFile | None, problems: list[Problem]) -> None:
    folder = root / "documents"
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        problems.append(
            Problem("documents/", None, "no documents (Markdown with 第X条 articles, txt, html, docx, pdf)")
        )
    for path in files:
        name = path.relative_to(root).as_posix()
        if path.name.endswith(".meta.json"):
            continue
        if path.suffix.lower() not in READABLE:
            problems.append(Problem(name, None, f"not a readable document ({', '.join(sorted(READABLE))})"))
            continue
        if path.suffix.lower() not in (".md", ".markdown", ".txt"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, None, f"not UTF-8 text (byte {exc.start})"))
            continue
        if not text.strip():
            problems.append(Problem(name, None, "empty"))
        elif not _ARTICLE.search(text):
            problems.append(Problem(name, None, "no 第X条 articles: answers could not cite a clause"))
        region = _REGION.search(text)
        if city and region and region.group(1) != city.region:
            line = text[: region.start()].count("\n") + 1
            problems.append(
                Problem(
                    name, line, f"地区 {region.group(1)} is not the city's region {city.region} (city.yaml)"
                )
            )


def _duty_list_name(root: Path, city: CityFile | None) -> str | None:
    """The duty list named by ``city.yaml`` (read raw when another key of it is wrong)."""
    if city is not None:
        return city.duty_list
    try:
        raw = yaml.safe_load((root / "city.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    name = raw.get("duty_list") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and ".." not in name and not name.startswith("/") else None


def _check_duty_list(root: Path, city: CityFile | None, problems: list[Problem]) -> set[str]:
    name = _duty_list_name(root, city)
    if name is None:
        return set()
    path = root / name
    if not path.is_file():
        if city is not None:
            problems.append(Problem("city.yaml", None, f"duty_list: {name} does not exist"))
        return set()
    try:
        return set(DutyTable.from_document(path).departments)
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        problems.append(Problem(name, None, f"{reason} (the 权责清单: one '第X条 部门：职责、…' line each)"))
        return set()


def _check_orders(root: Path, orders: OrdersFile, departments: set[str], problems: list[Problem]) -> None:
    path = root / orders.file
    if not path.is_file():
        problems.append(Problem("orders.yaml", None, f"file: {orders.file} does not exist"))
        return
    try:
        reader = csv.DictReader(decode_text(path.read_bytes(), orders.file).splitlines())
        header = reader.fieldnames or []
    except ValueError as exc:
        problems.append(Problem(orders.file, None, str(exc)))
        return
    absent = [f"{k} → {v}" for k, v in orders.columns.model_dump().items() if v and v not in header]
    if absent:
        problems.append(
            Problem(
                orders.file, 1, f"columns not in the header: {', '.join(absent)} (have: {', '.join(header)})"
            )
        )
        return
    text_col, dept_col = orders.columns.text, orders.columns.department
    found = 0
    for row in reader:
        reason = ""
        if not (row.get(text_col) or "").strip():
            reason = f"{text_col} is empty"
        elif not (department := (row.get(dept_col) or "").strip()):
            reason = f"{dept_col} is empty"
        elif departments and department not in departments:
            reason = f"{dept_col} {department} is not in the duty list"
        if reason:
            found += 1
            if found <= MAX_ROW_PROBLEMS:
                problems.append(Problem(orders.file, reader.line_num, reason))
    if found > MAX_ROW_PROBLEMS:
        problems.append(Problem(orders.file, None, f"… and {found - MAX_ROW_PROBLEMS} more rows like these"))


def check_enterprises(root: Path, problems: list[Problem]) -> None:
    """The enterprise data dictionary, and each export's header and rows against it (file and line)."""
    from tools.enterprises.dictionary import DictionaryError, RowValueError, load_dictionary  # noqa: PLC0415
    from tools.enterprises.registry import read_parquet_rows, read_rows  # noqa: PLC0415

    folder = root / "enterprises"
    exports = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and path.suffix.lower() not in (".csv", ".parquet", ".pq", ".md", ".yaml", ".yml"):
            problems.append(
                Problem(path.relative_to(root).as_posix(), None, "enterprise data is .csv or .parquet")
            )
        elif path.is_file() and path.suffix.lower() in (".csv", ".parquet", ".pq"):
            exports.append(path)
    fields_file = root / "enterprise_fields.yaml"
    if not fields_file.is_file():
        if exports:
            problems.append(
                Problem("enterprise_fields.yaml", None, "enterprise exports need the data dictionary")
            )
        return
    try:
        dictionary = load_dictionary(fields_file)
    except DictionaryError as exc:
        for text in str(exc).splitlines():
            _, _, rest = text.partition(f"{fields_file}:")
            number, _, message = rest.partition(": ")
            at = int(number) if number.isdigit() else None
            problems.append(Problem("enterprise_fields.yaml", at, message or text))
        return
    for path in exports:
        where = path.relative_to(root).as_posix()
        try:
            mapping, rows = (read_rows if path.suffix.lower() == ".csv" else read_parquet_rows)(
                path, dictionary
            )
            for line, row in rows:
                try:
                    dictionary.parse(row, mapping)
                except RowValueError as exc:
                    problems.append(Problem(where, line, str(exc)))
        except ValueError as exc:
            problems.append(Problem(where, 1, str(exc).replace(f"{path}: ", "")))


def check_rules(root: Path, problems: list[Problem]) -> None:
    """Subsidy rules: each must load, naming only the dictionary's fields, with test cases that pass.

    Each problem names the line of the rule or test case at fault.
    """
    from tools.enterprises.dictionary import DictionaryError, load_dictionary  # noqa: PLC0415

    try:
        fields = root / "enterprise_fields.yaml"
        dictionary = load_dictionary(fields) if fields.is_file() else None
    except DictionaryError:
        dictionary = None  # reported by check_enterprises
    folder = root / "rules"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix in (".yaml", ".yml", ".json"):
            _check_rule(path, path.relative_to(root).as_posix(), dictionary, problems)


def _check_rule(path: Path, name: str, dictionary: Dictionary | None, problems: list[Problem]) -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from tools.subsidies.rules import RuleError, parse_rule  # noqa: PLC0415 - only when a pack has rules

    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        rule = parse_rule(yaml.safe_load(text), dictionary)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(name, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}"))
        return
    except ValidationError as exc:
        problems.extend(Problem(name, line_at(node, tuple(e["loc"])), message(e)) for e in exc.errors())
        return
    except (RuleError, ValueError, OSError, yaml.YAMLError) as exc:
        problems.append(Problem(name, None, str(exc)))
        return
    if dictionary is None or not rule.tests:
        return
    from tools.subsidies.cases import run_cases  # noqa: PLC0415 - DuckDB only when a pack has cases

    for i, result in enumerate(run_cases(rule, dictionary)):
        if not result.passed:
            line = line_at(node, ("tests", i))
            problems.append(Problem(name, line, f"test case fails: {result.message()}"))
