"""A city's enterprise data dictionary: the facts it holds about enterprises, and how its exports spell them.

Each field has a plain name (what rules use), the Chinese label (what people read), the column headers
an export may carry it under, a type, a unit and a meaning. The engine knows none of a city's fields:
imports map headers through the dictionary, rules name its fields, the matcher's table is built
from it, and the officer's review shows each condition's field with its meaning and unit.

Types: ``text``, ``integer``, ``number``, ``boolean`` (是/否, 有/无, true/false, 1/0), ``date``
(YYYY-MM-DD, YYYY/MM/DD, YYYY年M月D日), ``year`` (a four-digit year), ``enum`` (one of ``values``).
A blank cell is a missing value, never false: it makes a condition over it unknown. Two fields are
required in every dictionary: ``credit_code`` (统一社会信用代码, checked) and ``name``.

Example (a city pack's ``enterprise_fields.yaml``)::

    fields:
      - {name: credit_code, label: 统一社会信用代码, type: text, required: true, public: true}
      - {name: name, label: 企业名称, headers: [名称], type: text, required: true, public: true}
      - name: insured_start_of_year
        label: 参保职工年初人数
        type: integer
        unit: 人
        meaning: 上年度1月1日在本市参加失业保险的职工人数
      - {name: tax_credit_level, label: 纳税信用等级, type: enum, values: [A, B, M, C, D]}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, Table, Text, insert, select

from tools.enterprises.credit_code import is_valid

FieldType = Literal["text", "integer", "number", "boolean", "date", "year", "enum"]
IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
REQUIRED_FIELDS = ("credit_code", "name")
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR", "enum": "VARCHAR", "integer": "BIGINT", "year": "BIGINT", "number": "DOUBLE",
    "boolean": "BOOLEAN", "date": "DATE",
}  # fmt: skip
_BOOLEANS = {"是": True, "否": False, "有": True, "无": False, "true": True, "false": False, "1": True,
             "0": False, "y": True, "n": False, "yes": True, "no": False}  # fmt: skip
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


class DictionaryError(ValueError):
    """A dictionary that cannot be used (says which file, which line, which field)."""


class FieldSpec(BaseModel):
    """One fact a city holds about enterprises."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=IDENTIFIER, description="What rules call it (plain identifier).")
    label: str = Field(min_length=1, max_length=60, description="The Chinese name people read.")
    headers: tuple[str, ...] = Field(default=(), description="Other column headers it arrives under.")
    type: FieldType
    unit: str = Field(default="", max_length=20)
    meaning: str = Field(default="", max_length=500)
    values: tuple[str, ...] | None = Field(default=None, description="The allowed values of an enum.")
    required: bool = Field(default=False, description="A row without it is refused.")
    public: bool = Field(default=False, description="Public (name, code); else shown only to the enterprise.")
    minimum: float | None = Field(default=None, allow_inf_nan=False)
    blank: tuple[str, ...] = Field(default=(), description="Cell values that mean 'no value' (e.g. 无).")

    @model_validator(mode="after")
    def _shape(self) -> FieldSpec:
        if (self.type == "enum") != (self.values is not None):
            raise ValueError(f"{self.name}: an enum lists its values, and only an enum does")
        if self.values is not None and not self.values:
            raise ValueError(f"{self.name}: an enum needs at least one value")
        return self

    @property
    def all_headers(self) -> tuple[str, ...]:
        """Every header the field may arrive under: its label, its other headers, its name."""
        return tuple(dict.fromkeys((self.label, *self.headers, self.name)))

    def parse(self, raw: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per type
        """The typed value of one cell (None when blank); ValueError says what does not fit."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        text = raw.strip() if isinstance(raw, str) else raw
        if text == "" or text in self.blank:
            return None
        kind = self.type
        if kind in ("text", "enum"):
            value = str(text)
            if any(ord(ch) < 32 for ch in value) or len(value) > 500:
                raise ValueError("text with control characters or over 500 characters")
            if self.values is not None and value not in self.values:
                raise ValueError(f"{value!r:.40} is not one of {'/'.join(self.values)}")
            return value
        if kind == "boolean":
            if isinstance(text, bool):
                return text
            key = str(text).lower()
            if key not in _BOOLEANS:
                raise ValueError(f"{text!r:.40} is not 是/否")
            return _BOOLEANS[key]
        if kind == "date":
            return _date(text)
        number = _number(text)
        if kind in ("integer", "year"):
            if number != int(number):
                raise ValueError(f"{text!r:.40} is not a whole number")
            number = int(number)
            if kind == "year" and not 1900 <= number <= 2200:
                raise ValueError(f"{text!r:.40} is not a year")
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{text!r:.40} is below {self.minimum:g}")
        return number

    def describe(self) -> str:
        """``参保职工年初人数（人）：上年度1月1日…``, for reviews and prompts."""
        unit = f"（{self.unit}）" if self.unit else ""
        values = f"，取值 {'/'.join(self.values)}" if self.values else ""
        return f"{self.label}{unit}{values}" + (f"：{self.meaning}" if self.meaning else "")


def _number(text: Any) -> float:
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a number")
    if isinstance(text, int | float):
        value = float(text)
    else:
        try:
            value = float(str(text).replace(",", ""))
        except ValueError as exc:
            raise ValueError(f"{text!r:.40} is not a number") from exc
    if not math.isfinite(value):
        raise ValueError(f"{text!r:.40} is not a finite number")
    return value


def _date(text: Any) -> date:
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    match = _DATE.match(str(text))
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ValueError(f"{text!r:.40} is not a date (YYYY-MM-DD)") from exc


@dataclass(frozen=True)
class RowError:
    """Why a row was refused: the header of the column at fault and the reason."""

    header: str
    reason: str

    def __str__(self) -> str:
        return f"{self.header}: {self.reason}"


class Dictionary(BaseModel):
    """Every field of a city's enterprise data, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: tuple[FieldSpec, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique(self) -> Dictionary:
        names = [f.name for f in self.fields]
        for required in REQUIRED_FIELDS:
            if required not in names or not self.fields[names.index(required)].required:
                raise ValueError(f"every dictionary has the field {required!r}, with required: true")
        seen: dict[str, str] = {}
        for f in self.fields:
            if names.count(f.name) > 1:
                raise ValueError(f"field {f.name!r} is listed twice")
            for header in f.all_headers:
                if header in seen and seen[header] != f.name:
                    raise ValueError(f"header {header!r} belongs to both {seen[header]!r} and {f.name!r}")
                seen[header] = f.name
        return self

    # -- lookups ---------------------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name`` (KeyError names it)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"unknown enterprise field {name!r:.80}")

    @property
    def names(self) -> list[str]:
        """The field names, in order."""
        return [f.name for f in self.fields]

    def label(self, name: str) -> str:
        """The Chinese label of a field (the name itself for an unknown one)."""
        return self.field(name).label if name in self else name

    def by_label(self, label: str) -> FieldSpec | None:
        """The field a person named by its label (or any of its headers)."""
        return next((f for f in self.fields if label in f.all_headers), None)

    @property
    def sql_columns(self) -> dict[str, str]:
        """Field name → SQL type (the matcher's table)."""
        return {f.name: SQL_TYPES[f.type] for f in self.fields}

    def numeric(self, name: str) -> bool:
        """Whether a field holds numbers (a rate's base, a ratio's parts)."""
        return name in self and self.field(name).type in ("integer", "number", "year")

    # -- imports ---------------------------------------------------------------------------------
    def columns(self, headers: Iterable[str]) -> dict[str, str]:
        """Header → field name for a file's header; ValueError names unknown and duplicate columns."""
        mapping: dict[str, str] = {}
        unknown, doubled = [], []
        for header in headers:
            spec = self.by_label(header.strip())
            if spec is None:
                unknown.append(header)
            elif spec.name in mapping.values():
                doubled.append(header)
            else:
                mapping[header] = spec.name
        problems = []
        if unknown:
            problems.append(
                f"columns the enterprise dictionary does not know: {', '.join(unknown)} "
                "(add them to the dictionary, with their type, to import them)"
            )
        if doubled:
            problems.append(f"columns that repeat a field: {', '.join(doubled)}")
        missing_required = [f.label for f in self.fields if f.required and f.name not in mapping.values()]
        if missing_required:
            problems.append(f"required columns missing: {', '.join(missing_required)}")
        if problems:
            raise ValueError("; ".join(problems))
        return mapping

    def absent(self, mapping: dict[str, str]) -> list[str]:
        """Labels of the fields a file has no column for (their values are missing, never false)."""
        present = set(mapping.values())
        return [f.label for f in self.fields if f.name not in present]

    def parse(self, row: dict[str, Any], mapping: dict[str, str] | None = None) -> dict[str, Any]:
        """Every field's typed value from one row (headers → values); missing fields are None.

        Raises :class:`RowValueError` naming the first column at fault.
        """
        mapping = mapping if mapping is not None else self.columns(row.keys())
        values: dict[str, Any] = dict.fromkeys(self.names)
        for header, name in mapping.items():
            spec = self.field(name)
            try:
                values[name] = spec.parse(row.get(header))
            except ValueError as exc:
                raise RowValueError(RowError(header, str(exc))) from exc
        for f in self.fields:
            if f.required and values[f.name] is None:
                raise RowValueError(RowError(f.label, "required, but blank"))
        code = str(values["credit_code"]).upper()
        if not is_valid(code):
            raise RowValueError(
                RowError(
                    self.field("credit_code").label,
                    "not a valid unified social credit code (18 characters, check character)",
                )
            )
        values["credit_code"] = code
        return values

    def typed(self, stored: dict[str, Any]) -> dict[str, Any]:
        """Stored JSON values back to their types (dates), every field present."""
        out: dict[str, Any] = dict.fromkeys(self.names)
        for f in self.fields:
            value = stored.get(f.name)
            out[f.name] = _date(value) if f.type == "date" and value is not None else value
        return out


class RowValueError(ValueError):
    """A row with a value that does not fit its field."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def load_dictionary(path: Path) -> Dictionary:
    """A dictionary file (YAML or JSON); DictionaryError names the file, the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise DictionaryError(f"{path}: cannot read: {exc}") from exc
    try:
        return Dictionary.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line = _line_of(node, error["loc"])
            where = ".".join(str(p) for p in error["loc"]) or "(dictionary)"
            problems.append(f"{path}:{line or 1}: {where}: {error['msg']}")
        raise DictionaryError("\n".join(problems)) from exc


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (the deepest one that exists)."""
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


# -- the dictionary in force, kept in the database ---------------------------------------------------
metadata = MetaData()

enterprise_dictionaries = Table(
    "enterprise_dictionaries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)


class NoDictionaryError(LookupError):
    """No enterprise data dictionary has been loaded (a city pack brings one)."""


def save_dictionary(engine: Engine, dictionary: Dictionary, source: str) -> bool:
    """Make ``dictionary`` the one in force; False (nothing written) when it already is."""
    body = dictionary.model_dump_json()
    try:
        if current_dictionary(engine).model_dump_json() == body:
            return False
    except NoDictionaryError:
        pass
    with engine.begin() as conn:
        conn.execute(
            insert(enterprise_dictionaries).values(
                body=body, source=source[:300], loaded_at=datetime.now(UTC)
            )
        )
    return True


def current_dictionary(engine: Engine) -> Dictionary:
    """The dictionary in force (the newest loaded); NoDictionaryError before any."""
    with engine.connect() as conn:
        body = conn.execute(
            select(enterprise_dictionaries.c.body).order_by(enterprise_dictionaries.c.id.desc()).limit(1)
        ).scalar()
    if body is None:
        raise NoDictionaryError(
            "no enterprise data dictionary is loaded: load the city pack (cityagent city load DIR) first"
        )
    return Dictionary.model_validate(json.loads(body))
