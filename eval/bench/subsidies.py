"""``cityagent bench subsidies``: N generated enterprises × 100 active policies on DuckDB.

Enterprises are generated inside DuckDB from a seed (hash of the row number and the seed per
column, about 3% of optional values missing); the 100 policies are the demo city's rules with
their thresholds and years varied. Every enterprise gets a decision and an amount under every
policy (the push lists' counts are read back), timed end to end at each size.
"""

from __future__ import annotations

import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

from service.demo_city.geography import DISTRICTS
from tools.subsidies.matcher import COLUMNS, Matcher
from tools.subsidies.rules import PolicyRule, load_rules

_CHOICES = {
    "industry_sector": ["制造业", "批发和零售业", "信息传输、软件和信息技术服务业", "住宿和餐饮业", "建筑业"],
    "scale": ["大型", "中型", "小型", "小型", "微型", "微型"],
    "district": list(DISTRICTS),  # the demo city's districts, which its rules name
    "credit_rating": ["A", "A", "B", "C", "D"],
    "high_tech_kind": ["首次", "重新认定"],
}
_REQUIRED = {
    "credit_code",
    "name",
    "industry_sector",
    "industry_code",
    "scale",
    "district",
    "founded",
    "employees",
}


def _expression(name: str, kind: str, k: int, seed: int) -> str:
    h = f"hash(i, {seed * 100 + k})"
    if name == "credit_code":
        return "printf('BENCH%013d', i)"
    if name == "name":
        return "'企业' || i"
    if name in _CHOICES:
        items = ", ".join(f"'{v}'" for v in _CHOICES[name])
        value = f"[{items}][1 + ({h} % {len(_CHOICES[name])})::INT]"
    elif name == "industry_code":
        value = "'C' || (13 + " + h + " % 30)::INT"
    elif kind == "BOOLEAN":
        value = f"({h} % 5 = 0)"
    elif kind == "DATE":
        value = f"DATE '1995-01-01' + ({h} % 11000)::INT"
    elif kind == "BIGINT":
        value = f"2015 + ({h} % 11)::BIGINT" if name.endswith("_year") else f"({h} % 300)::BIGINT"
    elif kind == "DOUBLE":
        value = f"({h} % 500000) / 100.0"
    else:
        value = "NULL"
    if name in _REQUIRED:
        return value
    return f"CASE WHEN hash(i, {seed * 100 + k + 50}) % 33 = 0 THEN NULL ELSE {value} END"


def generate(matcher: Matcher, count: int, seed: int = 7) -> None:
    """Replace the enterprises with ``count`` generated ones."""
    matcher.db.execute("DELETE FROM enterprises")
    columns = ", ".join(_expression(n, t, k, seed) for k, (n, t) in enumerate(COLUMNS.items()))
    matcher.db.execute(f"INSERT INTO enterprises SELECT {columns} FROM range({int(count)}) t(i)")  # noqa: S608


def policies(base: list[PolicyRule], count: int = 100) -> list[PolicyRule]:
    """``count`` rules: the demo rules with thresholds and years shifted, each its own id."""
    out = []
    for n in range(count):
        rule = base[n % len(base)].model_copy(deep=True)
        rule.id = f"{rule.id}-v{n}"
        for c in rule.conditions:
            if c.field and isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                c.value = c.value * (1 + (n % 7) / 10)
        out.append(rule)
    return out


def run_subsidy_bench(
    rules_dir: Path, sizes: list[int], *, as_of: date, threads: int | None = None
) -> dict[str, Any]:
    """Time decisions for every enterprise × every policy at each size."""
    active = policies(load_rules(rules_dir))
    matcher = Matcher()
    if threads:
        matcher.db.execute(f"SET threads = {threads}")
    results = []
    for size in sizes:
        started = time.perf_counter()
        generate(matcher, size)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        eligible = 0
        for rule in active:
            eligible += matcher.counts(rule, as_of).get("eligible", 0)
        matched = time.perf_counter() - started
        pairs = size * len(active)
        results.append({
            "enterprises": size, "policies": len(active), "generate_s": round(generated, 2),
            "match_s": round(matched, 2), "pairs_per_s": round(pairs / matched), "eligible_pairs": eligible,
        })  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"as_of": as_of.isoformat(), "runs": results, "peak_rss_mb": round(peak_mb)}


def run_import_bench(enterprises_csv: Path, rows: int, bad_share: float, folder: Path) -> dict[str, Any]:
    """Import ``rows`` enterprises from Parquet into a fresh SQLite registry; ``bad_share`` of them broken.

    The rows are the demo city's, repeated under new valid credit codes; every broken row has a
    negative 员工数, so the report must name exactly those lines.
    """
    import csv  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from tools.db import DatabaseSettings, make_engine, migrate  # noqa: PLC0415
    from tools.enterprises.credit_code import check_char  # noqa: PLC0415
    from tools.enterprises.registry import EnterpriseRegistry  # noqa: PLC0415

    with enterprises_csv.open(encoding="utf-8-sig") as f:
        demo = list(csv.DictReader(f))
    table: dict[str, list[str]] = {k: [] for k in demo[0]}
    step = max(1, round(1 / bad_share)) if bad_share else 0
    broken = []
    for i in range(rows):
        row = dict(demo[i % len(demo)])
        first17 = f"91990100{i:09d}"
        row["统一社会信用代码"] = first17 + check_char(first17)
        if step and i % step == step - 1:
            row["员工数"] = "-1"
            broken.append(i + 1)
        for k, v in row.items():
            table[k].append(v)
    path = folder / "enterprises.parquet"
    pq.write_table(pa.table(table), path)
    engine = make_engine(DatabaseSettings(), folder)
    migrate(engine)
    started = time.perf_counter()
    report = EnterpriseRegistry(engine).import_file(path)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "rows": rows, "stored": report.stored, "rejected": report.rejected_rows,
        "rejected_lines_match": [line for line, _ in report.errors] == broken[: len(report.errors)],
        "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
        "parquet_mb": round(path.stat().st_size / 1e6, 1),
    }  # fmt: skip
