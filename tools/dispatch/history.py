"""Historical work orders: what a dispatch model learns from.

Any city's export can be read: :class:`HistoryColumns` names which CSV columns hold the
text, title, address, category, urgency and department. Texts are stored with personal
data masked. A row without text or department is rejected with its line number; the
other rows are kept. Re-importing the same export updates rows by their order id.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, Text, func, select

from tools.csvio import ImportReport, decode_text
from tools.db import upsert
from tools.privacy import mask_pii

metadata = MetaData()

dispatch_history = Table(
    "dispatch_history",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=True),
    Column("title", Text, nullable=False, default=""),
    Column("text", Text, nullable=False),
    Column("address", Text, nullable=False, default=""),
    Column("category", String(64), nullable=False, default=""),
    Column("urgency", String(16), nullable=False, default=""),
    Column("department", String(128), nullable=False),
    Column("source", String(32), nullable=False, default="import"),
)


@dataclass(frozen=True)
class HistoryColumns:
    """Which CSV column holds what; ``text`` and ``department`` are required."""

    text: str = "诉求内容"
    department: str = "处置部门"
    title: str | None = "标题"
    address: str | None = "地址"
    category: str | None = "类别"
    urgency: str | None = "紧急程度"
    order_id: str | None = "工单编号"
    created_at: str | None = "受理时间"
    notes: str | None = None  # the call-taker's note (备注), read for training; not stored


def _parse_time(value: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    return None


def _row_values(row: dict[str, str], cols: HistoryColumns) -> dict[str, Any]:
    def get(name: str | None) -> str:
        return (row.get(name) or "").strip() if name else ""

    text, department = get(cols.text), get(cols.department)
    if not text:
        raise ValueError(f"column {cols.text!r} is empty")
    if not department:
        raise ValueError(f"column {cols.department!r} is empty")
    order_id = get(cols.order_id) or hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:20]
    return {
        "order_id": order_id[:64],
        "created_at": _parse_time(get(cols.created_at)) if cols.created_at else None,
        "title": mask_pii(get(cols.title)),
        "text": mask_pii(text),
        "address": mask_pii(get(cols.address)),
        "category": get(cols.category),
        "urgency": get(cols.urgency),
        "department": department,
        "source": "import",
        "notes": mask_pii(get(cols.notes)),
    }


def read_history(
    path: Path, columns: HistoryColumns | None = None
) -> tuple[list[dict[str, Any]], ImportReport]:
    """Usable rows of a history export (texts masked) and a report naming the rejected ones."""
    cols = columns or HistoryColumns()
    reader = csv.DictReader(decode_text(path.read_bytes(), str(path)).splitlines())
    named = [cols.text, cols.department] + [c for c in (cols.title, cols.address, cols.notes) if c]
    optional_defaults = {HistoryColumns.title, HistoryColumns.address}
    missing = [c for c in named if c not in (reader.fieldnames or []) and c not in optional_defaults]
    if missing:
        have = ", ".join(reader.fieldnames or [])
        raise ValueError(f"{path}: missing columns {', '.join(missing)} (have: {have})")
    report = ImportReport(str(path), "historical orders")
    rows: list[dict[str, Any]] = []
    for row in reader:
        try:
            rows.append(_row_values(row, cols))
        except ValueError as exc:
            report.errors.append((reader.line_num, str(exc)))
    report.stored = len(rows)
    return rows, report


class DispatchHistory:
    """Historical orders in the relational database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def import_csv(self, path: Path, columns: HistoryColumns | None = None) -> ImportReport:
        """Store every usable row of ``path``; report the others with their line numbers."""
        rows, report = read_history(path, columns)
        stored = [{k: v for k, v in r.items() if k != "notes"} for r in rows]
        report.stored = upsert(self._engine, dispatch_history, stored, "order_id")
        return report

    def record(
        self,
        order_id: str,
        *,
        text: str,
        title: str,
        department: str,
        category: str,
        urgency: str,
        source: str,
    ) -> None:
        """Keep a reviewed or auto-dispatched order as training data (``source`` says which)."""
        row = {
            "order_id": order_id,
            "created_at": None,
            "title": mask_pii(title),
            "text": mask_pii(text),
            "address": "",
            "category": category,
            "urgency": urgency,
            "department": department,
            "source": source,
        }
        upsert(self._engine, dispatch_history, [row], "order_id")

    def by_source(self, source: str) -> list[dict[str, Any]]:
        """Recorded rows of one source (e.g. ``review:changed``), for audits and retraining."""
        with self._engine.connect() as conn:
            query = select(dispatch_history).where(dispatch_history.c.source == source)
            rows = conn.execute(query).mappings().all()
        return [dict(r) for r in rows]

    def count(self) -> int:
        """Number of stored orders."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(dispatch_history)).scalar_one())
