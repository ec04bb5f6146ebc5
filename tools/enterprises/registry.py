"""The enterprise registry: what a city's shared data says about each enterprise.

Imported from CSV (UTF-8 or GB18030) or Parquet, with whatever headers the city's export uses:
the city's enterprise data dictionary (:mod:`tools.enterprises.dictionary`) maps each header to a
field and types its values. A column the dictionary does not know is named and the file refused;
a field the file has no column for is missing (never false) and named in the report. Every row is
validated; a bad row is reported with its line number and the column at fault, and the good rows
are stored (upsert by credit code), so one bad row loses nothing else.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, func, insert, select

from tools.csvio import ImportReport, decode_text
from tools.db import upsert
from tools.enterprises.dictionary import Dictionary, RowValueError, current_dictionary

metadata = MetaData()

# One row per enterprise: the public key and name, and every field's value as JSON (the dictionary's names).
enterprise_records = Table(
    "enterprise_records",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("facts", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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

MAX_REPORTED_ERRORS = 1000


def read_rows(
    path: Path, dictionary: Dictionary
) -> tuple[dict[str, str], Iterator[tuple[int, dict[str, Any]]]]:
    """The header mapping and (line number, row) of a CSV in UTF-8 (with or without BOM) or GB18030.

    ValueError (naming the file) for a header the dictionary cannot map.
    """
    text = decode_text(path.read_bytes(), str(path))
    reader = csv.DictReader(text.splitlines())
    mapping = _columns(path, dictionary, list(reader.fieldnames or []))

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for row in reader:
            if None in row:  # more cells than headers
                row.pop(None)
            yield reader.line_num, row

    return mapping, rows()


def _columns(path: Path, dictionary: Dictionary, headers: list[str]) -> dict[str, str]:
    try:
        return dictionary.columns(headers)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def read_parquet_rows(
    path: Path, dictionary: Dictionary, batch_rows: int = 65_536
) -> tuple[dict[str, str], Iterator[tuple[int, dict[str, Any]]]]:
    """The column mapping and (row number, row) of a Parquet file, streamed in record batches.

    Row numbers count from 1, as a spreadsheet shows them.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415 - only for Parquet imports

    try:
        handle = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) on non-Parquet
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
    mapping = _columns(path, dictionary, list(handle.schema_arrow.names))

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        for batch in handle.iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                number += 1
                yield number, row

    return mapping, rows()


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


class EnterpriseRegistry:
    """Enterprise rows in the relational database, typed by the city's enterprise data dictionary."""

    def __init__(self, engine: Engine, dictionary: Dictionary | None = None) -> None:
        self._engine = engine
        self._dictionary = dictionary

    @property
    def dictionary(self) -> Dictionary:
        """The dictionary given, else the one in force (NoDictionaryError before a city is loaded)."""
        if self._dictionary is None:
            self._dictionary = current_dictionary(self._engine)
        return self._dictionary

    def import_file(self, path: Path, batch_size: int = 2000, *, years_forward: int = 0) -> ImportReport:
        """A CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) export, by suffix; as :meth:`import_csv`.

        ``years_forward``: move every year and date field that many years on (a demo pack's data,
        written for one year, loaded in a later one; see ``data_year`` in the city pack).
        """
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return self._import(path, *read_rows(path, self.dictionary), batch_size, years_forward)
        if suffix in (".parquet", ".pq"):
            rows = read_parquet_rows(path, self.dictionary)
            return self._import(path, *rows, batch_size, years_forward)
        raise ValueError(
            f"{path}: enterprise imports are .csv or .parquet files, not {suffix or 'no suffix'}"
        )

    def import_csv(self, path: Path, batch_size: int = 500) -> ImportReport:
        """Validate every row, store the good ones, report the bad ones (line and column)."""
        return self._import(path, *read_rows(path, self.dictionary), batch_size)

    def _import(
        self,
        path: Path,
        mapping: dict[str, str],
        rows: Iterator[tuple[int, dict[str, Any]]],
        batch_size: int,
        years_forward: int = 0,
    ) -> ImportReport:
        dictionary = self.dictionary
        report = ImportReport(str(path), "enterprises")
        if years_forward:
            report.notes.append(f"every year and date field moved {years_forward} year(s) forward")
        absent = dictionary.absent(mapping)
        if absent:
            report.notes.append(f"no column for {', '.join(absent)}: these facts are missing for every row")
        batch: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        for line, row in rows:
            try:
                values = _forward(dictionary.parse(row, mapping), dictionary, years_forward)
            except RowValueError as exc:
                report.rejected += 1
                if len(report.errors) < MAX_REPORTED_ERRORS:
                    report.errors.append((line, str(exc)))
                continue
            facts = json.dumps({k: _json(v) for k, v in values.items()}, ensure_ascii=False)
            batch.append({"credit_code": values["credit_code"], "name": str(values["name"]), "facts": facts,
                          "updated_at": now})  # fmt: skip
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
        # one enterprise twice in a batch: the later row wins (and one upsert statement stays valid)
        unique = list({r["credit_code"]: r for r in rows}.values())
        upsert(self._engine, enterprise_records, unique, "credit_code")
        return len(rows)

    def count(self) -> int:
        """Number of enterprises stored."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(enterprise_records)).scalar_one())

    def all_rows(self) -> Iterator[dict[str, Any]]:
        """Every stored enterprise as a dict of typed field values (for the subsidy matcher)."""
        dictionary = self.dictionary
        with self._engine.connect() as conn:
            for row in conn.execute(select(enterprise_records.c.facts)):
                yield dictionary.typed(json.loads(row.facts))

    def get(self, credit_code: str) -> dict[str, Any] | None:
        """One enterprise's typed field values by credit code, or None."""
        with self._engine.connect() as conn:
            facts = conn.execute(
                select(enterprise_records.c.facts).where(enterprise_records.c.credit_code == credit_code)
            ).scalar()
        return self.dictionary.typed(json.loads(facts)) if facts else None


def _forward(values: dict[str, Any], dictionary: Dictionary, years: int) -> dict[str, Any]:
    """``values`` with every year and date field ``years`` on (29 February becomes the 28th)."""
    if not years:
        return values
    moved = dict(values)
    for spec in dictionary.fields:
        value = moved.get(spec.name)
        if value is None:
            continue
        if spec.type == "year":
            moved[spec.name] = int(value) + years
        elif spec.type == "date" and isinstance(value, date):
            try:
                moved[spec.name] = value.replace(year=value.year + years)
            except ValueError:
                moved[spec.name] = value.replace(year=value.year + years, day=28)
    return moved
