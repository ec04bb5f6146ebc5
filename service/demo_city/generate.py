"""Regenerate the demo city's CSV data: ``cityagent demo generate`` (seeded, so the files are stable)."""

from __future__ import annotations

import csv
from pathlib import Path

from service.demo_city import enterprises, work_orders

SEED = 20241123
ENTERPRISES = 2400
WORK_ORDERS = 1200
PACK = Path(__file__).parent / "pack"


def write_csv(path: Path, header: list[str], rows: list[dict[str, object]]) -> None:
    """UTF-8 with BOM, as city spreadsheets expect."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def generate(out_dir: Path = PACK, seed: int = SEED) -> dict[str, Path]:
    """Write the pack's ``enterprises/enterprises.csv`` and ``work_orders.csv``; return their paths."""
    paths = {
        "enterprises": out_dir / "enterprises" / "enterprises.csv",
        "work_orders": out_dir / "work_orders.csv",
    }
    paths["enterprises"].parent.mkdir(parents=True, exist_ok=True)
    write_csv(paths["enterprises"], enterprises.HEADER, enterprises.generate(ENTERPRISES, seed))
    write_csv(paths["work_orders"], work_orders.HEADER, work_orders.generate(WORK_ORDERS, seed + 1))
    return paths
