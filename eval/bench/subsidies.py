"""``cityagent bench subsidies``: N generated enterprises × 100 active policies on DuckDB.

Enterprises are generated inside DuckDB from a seed (hash of the row number and the seed per
column, about 3% of optional values missing), field by field from a city's enterprise data
dictionary (texts drawn from the values its rules compare with); the 100 policies are that city's
rules with their thresholds and years varied. Every enterprise gets a decision and an amount under every
policy (the push lists' counts are read back), timed end to end at each size.
"""

from __future__ import annotations

import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

from tools.enterprises.dictionary import Dictionary, load_dictionary
from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import Condition, PolicyRule, load_rules


def _choices(dictionary: Dictionary, rules: list[PolicyRule]) -> dict[str, list[str]]:
    """Values to draw for each text field: an enum's values, else the texts the rules compare it with."""
    found: dict[str, list[str]] = {f.name: list(f.values) for f in dictionary.fields if f.values}

    def walk(c: Condition) -> None:
        if c.field and dictionary.field(c.field).type == "text" and c.field not in found:
            values = c.value if isinstance(c.value, list) else [c.value]
            texts = [v for v in values if isinstance(v, str)]
            if texts:
                found[c.field] = [*texts, "其他"]
        for child in [*(c.all or []), *(c.any or []), *([c.not_] if c.not_ else [])]:
            walk(child)

    for rule in rules:
        for c in [*rule.conditions, *rule.exclusions, *(t.when for t in rule.benefit.tiers if t.when)]:
            walk(c)
    return found


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _expression(spec: Any, k: int, seed: int, choices: dict[str, list[str]]) -> str:
    h = f"hash(i, {seed * 100 + k})"
    name, kind = spec.name, spec.type
    if name == "credit_code":
        return "printf('BENCH%013d', i)"
    if name == "name":
        return "'企业' || i"
    if name in choices:
        items = ", ".join(_quoted(v) for v in choices[name])
        value = f"[{items}][1 + ({h} % {len(choices[name])})::INT]"
    elif kind == "boolean":
        value = f"({h} % 5 = 0)"
    elif kind == "date":
        value = f"DATE '1995-01-01' + ({h} % 11000)::INT"
    elif kind == "year":
        value = f"2015 + ({h} % 11)::BIGINT"
    elif kind == "integer":
        value = f"({h} % 300)::BIGINT"
    elif kind == "number":
        value = f"({h} % 500000) / 100.0"
    else:
        value = f"'x' || ({h} % 10)::INT"
    if spec.required:
        return value
    return f"CASE WHEN hash(i, {seed * 100 + k + 50}) % 33 = 0 THEN NULL ELSE {value} END"


def generate(matcher: Matcher, count: int, rules: list[PolicyRule], seed: int = 7) -> None:
    """Replace the enterprises with ``count`` generated ones (about 3% of optional values missing)."""
    dictionary = matcher.dictionary
    choices = _choices(dictionary, rules)
    matcher.db.execute("DELETE FROM enterprises")
    columns = ", ".join(_expression(f, k, seed, choices) for k, f in enumerate(dictionary.fields))
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
    dictionary_file: Path, rules_dir: Path, sizes: list[int], *, as_of: date, threads: int | None = None
) -> dict[str, Any]:
    """Time decisions for every enterprise × every policy at each size (a city's dictionary and rules)."""
    dictionary = load_dictionary(dictionary_file)
    base = load_rules(rules_dir, dictionary)
    active = policies(base)
    matcher = Matcher(dictionary)
    if threads:
        matcher.db.execute(f"SET threads = {threads}")
    results = []
    for size in sizes:
        started = time.perf_counter()
        generate(matcher, size, base)
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


def run_import_bench(
    dictionary_file: Path, enterprises_csv: Path, rows: int, bad_share: float, folder: Path
) -> dict[str, Any]:
    """Import ``rows`` enterprises from Parquet into a fresh SQLite registry; ``bad_share`` of them broken.

    The rows are the city's own (``enterprises_csv``), repeated under new valid credit codes; every
    broken row has an impossible value in its first numeric column with a minimum, so the report must
    name exactly those lines.
    """
    import csv  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from tools.db import DatabaseSettings, make_engine, migrate  # noqa: PLC0415
    from tools.enterprises.credit_code import check_char  # noqa: PLC0415
    from tools.enterprises.registry import EnterpriseRegistry  # noqa: PLC0415

    dictionary = load_dictionary(dictionary_file)
    with enterprises_csv.open(encoding="utf-8-sig") as f:
        demo = list(csv.DictReader(f))
    mapping = dictionary.columns(demo[0].keys())
    code_header = next(h for h, n in mapping.items() if n == "credit_code")
    bad_header = next(
        h for h, n in mapping.items()
        if dictionary.field(n).minimum is not None and dictionary.field(n).required
    )  # fmt: skip
    table: dict[str, list[str]] = {k: [] for k in demo[0]}
    step = max(1, round(1 / bad_share)) if bad_share else 0
    broken = []
    for i in range(rows):
        row = dict(demo[i % len(demo)])
        first17 = f"91990100{i:09d}"
        row[code_header] = first17 + check_char(first17)
        if step and i % step == step - 1:
            row[bad_header] = "-1"
            broken.append(i + 1)
        for k, v in row.items():
            table[k].append(v)
    path = folder / "enterprises.parquet"
    pq.write_table(pa.table(table), path)
    engine = make_engine(DatabaseSettings(), folder)
    migrate(engine)
    started = time.perf_counter()
    report = EnterpriseRegistry(engine, dictionary).import_file(path)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "rows": rows, "stored": report.stored, "rejected": report.rejected_rows,
        "rejected_lines_match": [line for line, _ in report.errors] == broken[: len(report.errors)],
        "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
        "parquet_mb": round(path.stat().st_size / 1e6, 1),
    }  # fmt: skip
