"""The deterministic matcher: every enterprise × every active policy, on DuckDB, explained per condition.

Decisions: ``eligible`` (all conditions hold, no exclusion applies), ``not_eligible`` (a
condition fails or an exclusion applies), ``missing_data`` (otherwise: a value is missing; the
fields are named). Each explanation lists, per condition, the enterprise's values, what the rule
expects, the outcome and the clause it comes from.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tools.enterprises.dictionary import Dictionary
from tools.subsidies.rules import Condition, PolicyRule
from tools.subsidies.sql import condition_columns, decision_sql, resolve, transpile

# The matcher's DuckDB reads only what this process hands it: no files, no URLs, no extensions,
# no environment, and the settings cannot be switched back from SQL. A bug that let a rule's
# text into a statement would still find nothing to read.
LOCKED = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(),
          "DATE": pa.date32()}  # fmt: skip


Outcome = tuple[str, str, str, float | None, tuple[Any, ...]]  # code, name, decision, amount, flags


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with external access off and its configuration locked."""
    return duckdb.connect(str(path) if path else ":memory:", config=dict(LOCKED))


@dataclass(frozen=True)
class ConditionResult:
    """One condition of one decision."""

    id: str
    label: str
    outcome: str  # pass / fail / missing (exclusions: applies / clear / missing)
    values: dict[str, Any]
    expected: str
    citation: str
    quote: str
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    """An enterprise × policy decision with its explanation."""

    credit_code: str
    name: str
    policy: str
    document: str
    mode: str
    decision: str
    amount: float | None
    conditions: list[ConditionResult]

    @property
    def missing_fields(self) -> list[str]:
        """The Chinese names of the fields whose values are needed (for ``missing_data``)."""
        return sorted({m for c in self.conditions for m in c.missing})


def expected_words(c: Condition, as_of: date, dictionary: Dictionary) -> str:
    """What the condition expects, in words (``营业收入万元 ≥ 500``)."""
    if c.field is None:
        kind = "全部满足" if c.all else ("满足其一" if c.any else "不满足")
        children = c.all or c.any or ([c.not_] if c.not_ else [])
        return f"{kind}：" + "；".join(expected_words(x, as_of, dictionary) for x in children)
    label = dictionary.label(c.field)
    value = resolve(c.value, as_of)
    words = {
        "eq": f"{label} = {value}",
        "ne": f"{label} ≠ {value}",
        "gt": f"{label} > {value}",
        "ge": f"{label} ≥ {value}",
        "lt": f"{label} < {value}",
        "le": f"{label} ≤ {value}",
        "between": f"{label} 在 {value[0]}–{value[1]} 之间" if isinstance(value, list) else "",
        "in": f"{label} 属于 {value}",
        "not_in": f"{label} 不属于 {value}",
        "is_true": f"{label} = 是",
        "is_false": f"{label} = 否",
        "years_since_ge": f"{label} 距今满 {value} 年",
        "ratio_ge": f"{label} / {dictionary.label(c.of or '')} ≥ {value}",
        "ratio_le": f"{label} / {dictionary.label(c.of or '')} ≤ {value}",
    }
    return words[str(c.op)]


def coerce_facts(stated: dict[str, str], dictionary: Dictionary) -> dict[str, Any]:
    """Values stated by their Chinese field names (``{"参保人数": "35"}``) as typed field values.

    ValueError names the field whose value does not fit (``参保人数: 是``).
    """
    values: dict[str, Any] = {}
    for label, raw in stated.items():
        spec = dictionary.by_label(label)
        if spec is None:
            raise ValueError(f"unknown enterprise field {label}")
        try:
            values[spec.name] = spec.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{label}: {raw} is not a valid value") from exc
    return values


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula (a name starting with = + - @ is quoted)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class Matcher:
    """A DuckDB database of enterprises (in memory by default, or a file) and the rules to run on it."""

    def __init__(self, dictionary: Dictionary, path: Path | None = None) -> None:
        # One connection per use (``_cursor``): a DuckDB connection must not be shared by threads.
        self.dictionary = dictionary
        self.columns = dictionary.sql_columns  # names are plain identifiers (the dictionary checks)
        self.db = connect(path)
        columns = ", ".join(f'"{n}" {t}' for n, t in self.columns.items())
        self.db.execute(f"CREATE TABLE IF NOT EXISTS enterprises ({columns}, PRIMARY KEY (credit_code))")

    def load_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert (or replace) rows already validated (e.g. from the enterprise registry); the count."""
        dumped = list(rows)
        if not dumped:
            return 0
        schema = pa.schema([(n, _ARROW[t]) for n, t in self.columns.items()])
        batch = pa.table(
            {n: [d.get(n) for d in dumped] for n in self.columns}, schema=schema
        )  # columnar: one insert, not one per row
        with self._cursor() as cur:
            cur.register("incoming", batch)
            cur.execute("INSERT OR REPLACE INTO enterprises SELECT * FROM incoming")
        return len(dumped)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to the same database, for this thread's query."""
        return self.db.cursor()

    def size(self) -> int:
        """How many enterprises are loaded."""
        with self._cursor() as cur:
            row = cur.execute("SELECT count(*) FROM enterprises").fetchone()
        return int(row[0]) if row else 0

    def transpiled(self, rule: PolicyRule, as_of: date, dialect: str) -> str:
        """The rule's SQL in another engine's dialect (``postgres``, ``spark``, ``trino``, …) via sqlglot."""
        return transpile(self.sql(rule, as_of), dialect)

    def sql(self, rule: PolicyRule, as_of: date) -> str:
        """The SQL the rule runs as (to read, or to run in a warehouse)."""
        return decision_sql(rule, as_of, self.dictionary)

    def counts(self, rule: PolicyRule, as_of: date) -> dict[str, int]:
        """How many enterprises get each decision."""
        query = f"SELECT decision, count(*) FROM ({self.sql(rule, as_of)}) GROUP BY decision"
        with self._cursor() as cur:
            return {str(d): int(n) for d, n in cur.execute(query).fetchall()}

    def outcomes(self, rule: PolicyRule, as_of: date) -> list[Outcome]:
        """Every enterprise's decision under ``rule``, by credit code: what a what-if compares.

        Each row: credit code, name, decision, amount, and each condition's then each exclusion's
        TRUE / FALSE / NULL.
        """
        cond_cols, excl_cols = condition_columns(rule)
        flags = "".join(f", {c}" for c in [*cond_cols, *excl_cols])  # positional names, never the rule's
        query = f"SELECT credit_code, name, decision, amount{flags} FROM ({self.sql(rule, as_of)}) ORDER BY 1"
        with self._cursor() as cur:
            rows = cur.execute(query).fetchall()
        return [
            (str(r[0]), str(r[1]), str(r[2]), None if r[3] is None else float(r[3]), tuple(r[4:]))
            for r in rows
        ]

    def records(self, credit_codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored field values of these enterprises, by credit code (non-public: for staff only)."""
        if not credit_codes:
            return {}
        marks = ", ".join("?" for _ in credit_codes)
        with self._cursor() as cur:
            rows = cur.execute(
                f"SELECT * FROM enterprises WHERE credit_code IN ({marks})", list(credit_codes)
            ).fetchall()
        found = [dict(zip(self.columns, r, strict=True)) for r in rows]
        return {str(d["credit_code"]): d for d in found}

    def push_list(self, rule: PolicyRule, as_of: date) -> list[tuple[str, str, float | None]]:
        """(credit code, name, amount) of every eligible enterprise: who gets it without applying."""
        decided = self.sql(rule, as_of)
        query = f"SELECT credit_code, name, amount FROM ({decided}) WHERE decision = 'eligible' ORDER BY 1"
        with self._cursor() as cur:
            rows = cur.execute(query).fetchall()
        return [(str(c), str(n), float(a) if a is not None else None) for c, n, a in rows]

    def push_list_csv(self, rule: PolicyRule, as_of: date) -> tuple[str, int]:
        """The push list as CSV text (the columns of the city's push list) and its row count."""
        rows = self.push_list(rule, as_of)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["统一社会信用代码", "名称", "政策", "兑现方式", "金额元", "依据"])
        cite = f"〔{rule.document} {rule.benefit.clause.article}〕"
        for code, name, amount in rows:
            writer.writerow([
                code, _cell(name), _cell(rule.document), rule.mode,
                "" if amount is None else round(amount, 2), _cell(cite),
            ])  # fmt: skip
        return out.getvalue(), len(rows)

    def export_push_list(self, rule: PolicyRule, as_of: date, out: Path) -> int:
        """The push list written to ``out`` as CSV (with a BOM, for spreadsheet programs); the row count."""
        text, count = self.push_list_csv(rule, as_of)
        out.write_text(text, encoding="utf-8-sig", newline="")
        return count

    def write_decisions(self, rules: Sequence[PolicyRule], as_of: date, out: Path) -> int:
        """Every enterprise × every rule as CSV: decision, amount, failed conditions, missing fields.

        Written to a temporary file and renamed, so a reader never sees half a table; the row count.
        """
        header = [
            "统一社会信用代码",
            "名称",
            "政策",
            "规则版本",
            "结果",
            "金额元",
            "未满足的条件",
            "缺少的字段",
            "依据",
        ]
        tmp = out.with_name(out.name + ".part")
        rows = 0
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for rule in rules:
                rows += self._write_rule(writer, rule, as_of)
        tmp.replace(out)
        return rows

    def _write_rule(self, writer: Any, rule: PolicyRule, as_of: date) -> int:
        cond_cols, excl_cols = condition_columns(rule)
        outcomes = ", ".join(f"d.{c}" for c in [*cond_cols, *excl_cols])
        query = (
            f"SELECT d.decision, d.amount, {outcomes + ', ' if outcomes else ''}e.* "
            f"FROM ({self.sql(rule, as_of)}) d JOIN enterprises e USING (credit_code) ORDER BY e.credit_code"
        )
        parts = [*zip(rule.conditions, cond_cols, [False] * len(cond_cols), strict=True),
                 *zip(rule.exclusions, excl_cols, [True] * len(excl_cols), strict=True)]  # fmt: skip
        cite = f"〔{rule.document} {rule.benefit.clause.article}〕"
        count = 0
        with self._cursor() as cur:
            cursor = cur.execute(query)
            while batch := cursor.fetchmany(2000):
                for row in batch:
                    decision, amount, flags = row[0], row[1], row[2 : 2 + len(parts)]
                    values = dict(zip(self.columns, row[2 + len(parts) :], strict=True))
                    # a condition fails when FALSE, an exclusion applies when TRUE
                    failed = [c.label for (c, _, excl), v in zip(parts, flags, strict=True) if v is excl]
                    failed = failed if decision == "not_eligible" else []
                    missing = sorted({
                        self.dictionary.label(f)
                        for (c, _, _), v in zip(parts, flags, strict=True) if v is None
                        for f in c.fields() if values.get(f) is None
                    }) if decision == "missing_data" else []  # fmt: skip
                    writer.writerow([
                        values["credit_code"], _cell(str(values["name"])), rule.id, rule.version, decision,
                        "" if amount is None or decision != "eligible" else round(float(amount), 2),
                        _cell("；".join(str(x) for x in failed)), "；".join(missing), _cell(cite),
                    ])  # fmt: skip
                    count += 1
        return count

    def explain(self, credit_code: str, rules: Sequence[PolicyRule], as_of: date) -> list[Decision]:
        """Every in-force policy for one enterprise (the 政策超市 view), explained condition by condition."""
        with self._cursor() as cur:
            return self._explain(cur, credit_code, rules, as_of)

    def explain_with(
        self, credit_code: str, values: dict[str, Any], rules: Sequence[PolicyRule], as_of: date
    ) -> list[Decision]:
        """As :meth:`explain`, with some field values replaced (facts an enterprise states, unverified).

        The stored record is not changed: the decisions run on a one-row copy.
        """
        with self._cursor() as cur:
            row = cur.execute("SELECT * FROM enterprises WHERE credit_code = ?", [credit_code]).fetchone()
        if row is None:
            raise KeyError(f"no enterprise with credit code {credit_code}")
        unknown = sorted(set(values) - set(self.columns))
        if unknown:
            raise ValueError(f"unknown enterprise fields {', '.join(unknown)}")
        scratch = Matcher(self.dictionary)
        scratch.load_rows([{**dict(zip(self.columns, row, strict=True)), **values}])
        return scratch.explain(credit_code, rules, as_of)

    @staticmethod
    def explain_declared(
        dictionary: Dictionary,
        credit_code: str,
        values: dict[str, Any],
        rules: Sequence[PolicyRule],
        as_of: date,
    ) -> list[Decision]:
        """The decisions on ``values`` alone (facts a visitor typed), never on the stored record.

        For visitors who do not speak for the enterprise: the shared data's non-public facts stay
        out, every field not stated is missing, so the result names what each policy needs.
        """
        unknown = sorted(set(values) - set(dictionary.names))
        if unknown:
            raise ValueError(f"unknown enterprise fields {', '.join(unknown)}")
        scratch = Matcher(dictionary)
        scratch.load_rows([{**values, "credit_code": credit_code, "name": ""}])
        return scratch.explain(credit_code, rules, as_of)

    def _explain(
        self, cur: duckdb.DuckDBPyConnection, credit_code: str, rules: Sequence[PolicyRule], as_of: date
    ) -> list[Decision]:
        values_row = cur.execute("SELECT * FROM enterprises WHERE credit_code = ?", [credit_code]).fetchone()
        if values_row is None:
            raise KeyError(f"no enterprise with credit code {credit_code}")
        values = dict(zip(self.columns, values_row, strict=True))
        decisions = []
        for rule in rules:
            if rule.status != "active" or not rule.valid_on(as_of):
                continue
            query = f"SELECT * FROM ({self.sql(rule, as_of)}) WHERE credit_code = ?"
            cursor = cur.execute(query, [credit_code])
            names = [d[0] for d in cursor.description]
            row = dict(zip(names, cursor.fetchone() or (), strict=True))
            cond_cols, excl_cols = condition_columns(rule)
            results = [
                self._result(c, row[col], values, rule, as_of, exclusion=False)
                for c, col in zip(rule.conditions, cond_cols, strict=True)
            ]
            results += [
                self._result(c, row[col], values, rule, as_of, exclusion=True)
                for c, col in zip(rule.exclusions, excl_cols, strict=True)
            ]
            decision = str(row["decision"])
            amount = row["amount"] if decision == "eligible" else None
            decisions.append(
                Decision(
                    credit_code,
                    str(values["name"]),
                    rule.id,
                    rule.document,
                    rule.mode,
                    decision,
                    None if amount is None else float(amount),
                    results,
                )
            )
        return decisions

    def _result(
        self,
        c: Condition,
        outcome: bool | None,
        values: dict[str, Any],
        rule: PolicyRule,
        as_of: date,
        *,
        exclusion: bool,
    ) -> ConditionResult:
        fields = list(dict.fromkeys(c.fields()))
        label = self.dictionary.label
        missing = [label(f) for f in fields if values.get(f) is None] if outcome is None else []
        if exclusion:
            word = "missing" if outcome is None else ("applies" if outcome else "clear")
        else:
            word = "missing" if outcome is None else ("pass" if outcome else "fail")
        assert c.clause is not None
        return ConditionResult(
            id=str(c.id),
            label=str(c.label),
            outcome=word,
            values={label(f): values.get(f) for f in fields},
            expected=expected_words(c, as_of, self.dictionary),
            citation=f"〔{rule.document} {c.clause.article}〕",
            quote=c.clause.quote,
            missing=missing,
        )
