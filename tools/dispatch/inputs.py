"""What ``dispatch train``/``eval`` and ``bench dispatch`` read: an export's orders and the city's tables.

Rows without a department (or text) are reported with their line numbers and skipped; the
gazetteer, the unit directory and the rename map are optional files of the city's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.dispatch.history import HistoryColumns, read_history
from tools.dispatch.location import Gazetteer
from tools.dispatch.model import TrainingOrder
from tools.dispatch.units import UnitNames, read_renames


@dataclass
class LoadedOrders:
    """The usable orders of an export, and the rows skipped (line number, reason)."""

    path: str
    orders: list[TrainingOrder]
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """JSON-ready: how many rows were skipped, and where."""
        return {
            "file": self.path,
            "orders": len(self.orders),
            "skipped_rows": len(self.skipped),
            "skipped_lines": [line for line, _ in self.skipped],
            "skipped_reasons": sorted({reason for _, reason in self.skipped}),
        }


def load_orders(path: Path, columns: HistoryColumns) -> LoadedOrders:
    """The orders of one export (texts masked); ``ValueError`` when a named column is missing."""
    rows, report = read_history(path, columns)
    return LoadedOrders(str(path), [TrainingOrder.from_history_row(r) for r in rows], list(report.errors))


def columns_of(
    *,
    text: str,
    department: str,
    title: str = "",
    address: str = "",
    notes: str = "",
    category: str = "",
    urgency: str = "",
    order_id: str = "",
) -> HistoryColumns:
    """Column names ('' = the export has none)."""
    return HistoryColumns(
        text=text,
        department=department,
        title=title or None,
        address=address or None,
        notes=notes or None,
        category=category or None,
        urgency=urgency or None,
        order_id=order_id or None,
        created_at=None,
    )


@dataclass(frozen=True)
class CityTables:
    """The city's optional tables."""

    gazetteer: Gazetteer | None = None
    renames: dict[str, str] = field(default_factory=dict)
    directory: dict[str, set[str]] = field(default_factory=dict)


def load_tables(gazetteer: Path | None, renames: Path | None, units: Path | None) -> CityTables:
    """Read whichever files were given (``ValueError`` names the file and what is wrong)."""
    return CityTables(
        gazetteer=Gazetteer.from_file(gazetteer) if gazetteer else None,
        renames=read_renames(renames) if renames else {},
        directory=UnitNames.read_directory(units) if units else {},
    )
