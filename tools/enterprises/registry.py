"""The enterprise registry: what a city's shared data says about each enterprise.

Imported from CSV with the Chinese headers cities export (统一社会信用代码, 名称, 行业门类, …).
Every row is validated; a bad row is reported with its line number and the field at fault,
and the good rows are stored (upsert by credit code), so one bad row loses nothing else.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)

from tools.csvio import ImportReport, decode_text
from tools.db import upsert
from tools.enterprises.credit_code import is_valid

metadata = MetaData()


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _yes_no(value: Any) -> Any:
    mapping = {"是": True, "否": False, "true": True, "false": False, "1": True, "0": False}
    if isinstance(value, str):
        key = value.strip().lower()
        if key in mapping:
            return mapping[key]
    return value


def _level(value: Any) -> Any:
    return None if value in ("", "无", None) else value


OptInt = Annotated[int | None, BeforeValidator(_blank_to_none)]
OptFloat = Annotated[float | None, BeforeValidator(_blank_to_none)]
OptBool = Annotated[bool | None, BeforeValidator(_blank_to_none), BeforeValidator(_yes_no)]
OptStr = Annotated[str | None, BeforeValidator(_level)]


class EnterpriseRecord(BaseModel):
    """One enterprise; field aliases are the CSV's Chinese headers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    credit_code: str = Field(alias="统一社会信用代码")
    name: str = Field(alias="名称", min_length=2, max_length=200)
    industry_sector: str = Field(alias="行业门类")
    industry_code: str = Field(alias="行业代码", pattern=r"^[A-T]\d{0,4}$")
    scale: Literal["大型", "中型", "小型", "微型"] = Field(alias="规模")
    district: str = Field(alias="注册区")
    founded: date = Field(alias="成立日期")
    employees: int = Field(alias="员工数", ge=0)
    insured_employees: OptInt = Field(alias="参保人数", ge=0)
    revenue_10k: OptFloat = Field(alias="营业收入万元", ge=0)
    tax_10k: OptFloat = Field(alias="纳税额万元", ge=0)
    rd_expense_10k: OptFloat = Field(alias="研发费用万元", ge=0)
    high_tech: OptBool = Field(alias="高新技术企业")
    high_tech_year: OptInt = Field(alias="高企认定年度")
    high_tech_kind: OptStr = Field(alias="高企认定类型")
    srdi_level: OptStr = Field(alias="专精特新等级")
    srdi_year: OptInt = Field(alias="专精特新认定年度")
    above_scale_industry: OptBool = Field(alias="规上工业企业")
    above_scale_first_year: OptInt = Field(alias="首次规上年度")
    above_limit_trade: OptBool = Field(alias="限上商贸企业")
    above_limit_first_year: OptInt = Field(alias="首次限上年度")
    export_10k_usd: OptFloat = Field(alias="出口额万美元", ge=0)
    layoffs_last_year: OptInt = Field(alias="上年裁员人数", ge=0)
    unemployment_premium_10k: OptFloat = Field(alias="上年失业保险缴费万元", ge=0)
    graduates_hired_last_year: OptInt = Field(alias="上年新招高校毕业生人数", ge=0)
    green_factory_level: OptStr = Field(alias="绿色工厂等级")
    green_factory_year: OptInt = Field(alias="绿色工厂认定年度")
    credit_rating: Annotated[Literal["A", "B", "C", "D"] | None, BeforeValidator(_blank_to_none)] = Field(
        alias="信用等级"
    )
    dishonest: OptBool = Field(alias="严重失信")
    tax_arrears: OptBool = Field(alias="欠缴税款")
    unpaid_wages: OptBool = Field(alias="拖欠工资")
    major_accident: OptBool = Field(alias="重大安全事故")

    @field_validator("credit_code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        if not is_valid(value.upper()):
            raise ValueError("not a valid unified social credit code (18 characters, check character)")
        return value.upper()


_TYPES: dict[Any, Any] = {int: Integer, float: Float, bool: Boolean, date: Date}


def _column(name: str, info: Any) -> Column[Any]:
    annotation = info.annotation
    members = getattr(annotation, "__args__", (annotation,))
    args = [a for a in members if a is not type(None)]
    sql_type = _TYPES.get(args[0], String(200)) if args else String(200)
    if name == "credit_code":
        return Column(name, String(18), primary_key=True)
    return Column(name, sql_type, nullable=type(None) in members)


enterprises = Table(
    "enterprises",
    metadata,
    *[_column(name, info) for name, info in EnterpriseRecord.model_fields.items()],
)

# Every import, kept for accountability; its newest id tells each worker whether its loaded copy is stale.
enterprise_imports = Table(
    "enterprise_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(300), nullable=False),
    Column("stored", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

HEADERS = [str(info.alias) for info in EnterpriseRecord.model_fields.values()]


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV in UTF-8 (with or without BOM) or GB18030; checks the header."""
    text = decode_text(path.read_bytes(), str(path))
    reader = csv.DictReader(text.splitlines())
    _check_columns(str(path), list(reader.fieldnames or []))
    for row in reader:
        yield reader.line_num, row


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    alias = first["loc"][0] if first["loc"] else "?"
    return f"{alias}: {first['msg']}"


FIELD_OF = {str(info.alias): name for name, info in EnterpriseRecord.model_fields.items()}
MAX_REPORTED_ERRORS = 1000


def _check_columns(where: str, columns: list[str]) -> None:
    """Refuse a file whose header lacks required columns or has unknown ones (named)."""
    known = set(HEADERS) | set(FIELD_OF.values())
    present = {FIELD_OF.get(c, c) for c in columns}
    missing = [h for h in HEADERS if FIELD_OF[h] not in present]
    unknown = [c for c in columns if c not in known]
    problems = []
    if missing:
        problems.append(f"missing columns {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns {', '.join(unknown)}")
    if problems:
        raise ValueError(f"{where}: {'; '.join(problems)}")


def read_parquet_rows(path: Path, batch_rows: int = 65_536) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) of a Parquet file, streamed in record batches; checks the schema first.

    Columns may carry the Chinese headers of the CSV export or the field names. Row numbers
    count from 1, as a spreadsheet shows them.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415 - only for Parquet imports

    try:
        handle = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) on non-Parquet
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
    _check_columns(str(path), list(handle.schema_arrow.names))
    alias_of = {name: alias for alias, name in FIELD_OF.items()}  # errors name the Chinese headers
    number = 0
    for batch in handle.iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            number += 1
            yield number, {alias_of.get(k, k): ("" if v is None else v) for k, v in row.items()}


class EnterpriseRegistry:
    """Enterprise rows in the relational database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def import_file(self, path: Path, batch_size: int = 2000) -> ImportReport:
        """A CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) export, by suffix; as :meth:`import_csv`."""
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return self.import_csv(path, batch_size)
        if suffix in (".parquet", ".pq"):
            return self._import(path, read_parquet_rows(path), batch_size)
        raise ValueError(
            f"{path}: enterprise imports are .csv or .parquet files, not {suffix or 'no suffix'}"
        )

    def import_csv(self, path: Path, batch_size: int = 500) -> ImportReport:
        """Validate every row, store the good ones, report the bad ones (line and field)."""
        return self._import(path, read_rows(path), batch_size)

    def _import(
        self, path: Path, rows: Iterator[tuple[int, dict[str, Any]]], batch_size: int
    ) -> ImportReport:
        report = ImportReport(str(path), "enterprises")
        batch: list[dict[str, Any]] = []
        for line, row in rows:
            try:
                batch.append(EnterpriseRecord.model_validate(row).model_dump())
            except ValidationError as exc:
                report.rejected += 1
                if len(report.errors) < MAX_REPORTED_ERRORS:
                    report.errors.append((line, _error_text(exc)))
                continue
            if len(batch) >= batch_size:
                report.stored += self._upsert(batch)
                batch = []
        if batch:
            report.stored += self._upsert(batch)
        with self._engine.begin() as conn:
            conn.execute(
                insert(enterprise_imports).values(
                    source=path.name[:300], stored=report.stored, rejected=report.rejected_rows,
                    imported_at=datetime.now(UTC),
                )
            )  # fmt: skip
        return report

    def last_import(self) -> int:
        """The id of the newest import (0 before any): it changes whenever the registry may have."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(enterprise_imports.c.id))).scalar() or 0)

    def _upsert(self, rows: list[dict[str, Any]]) -> int:
        return upsert(self._engine, enterprises, rows, "credit_code")

    def count(self) -> int:
        """Number of enterprises stored."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(enterprises)).scalar_one())

    def all_rows(self) -> Iterator[dict[str, Any]]:
        """Every stored enterprise as a dict of field values (for the subsidy matcher)."""
        with self._engine.connect() as conn:
            for row in conn.execute(select(enterprises)).mappings():
                yield dict(row)

    def get(self, credit_code: str) -> EnterpriseRecord | None:
        """One enterprise by credit code."""
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(enterprises).where(enterprises.c.credit_code == credit_code))
                .mappings()
                .first()
            )
        return EnterpriseRecord.model_validate(dict(row)) if row else None
