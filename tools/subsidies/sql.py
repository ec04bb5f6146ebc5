"""Rules compiled to SQL: one boolean expression per condition, with SQL's three-valued logic.

A rule outside its validity window on the evaluation day (``valid_from`` / ``valid_to``) gives every
enterprise ``not_in_force``: an expired or not-yet-valid policy never yields ``eligible``.

A leaf over a NULL field is NULL (unknown), and AND / OR / NOT treat NULL the way the decision
needs (FALSE AND NULL is FALSE; TRUE OR NULL is TRUE), so ``missing_data`` falls out of the
SQL itself. The generated SQL is plain ANSI with ``CASE``: it runs on DuckDB by default and can
be transpiled (``sqlglot``) for a warehouse.

A rule is data an officer (or the model) wrote, so nothing of its text becomes SQL syntax:
column names come from the known field list (a rule naming another field raises), the output
columns are named by position (``c_0``, ``x_1``), and values are literals built from typed Python
values (finite numbers, dates, text with its quotes doubled and no control characters). The
finished statement is parsed again and must reference only known columns and a short list of
functions, so a future bug in this module still cannot smuggle a sub-select or a file read through.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from tools.enterprises.dictionary import Dictionary
from tools.subsidies.rules import Condition, PolicyRule, RuleError, Tier

_CMP = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_PLAIN = re.compile(r"^[a-z][a-z0-9_]*$")
_OUTPUT = ("credit_code", "name", "decision", "amount")
TABLE = "enterprises"
_YUAN = {"元": 1.0, "": 1.0, "千元": 1e3, "万元": 1e4, "十万元": 1e5, "百万元": 1e6, "亿元": 1e8}


class Columns:
    """The only spellings of columns that ever reach SQL: built from the city's field list, not a rule."""

    def __init__(self, names: list[str], units: dict[str, str] | None = None) -> None:
        plain = [n for n in names if _PLAIN.match(n)]
        if len(plain) != len(names):
            raise RuleError(f"field names must be plain identifiers: {sorted(set(names) - set(plain))}")
        self.quoted = {n: f'"{n}"' for n in plain}
        self.units = dict(units or {})

    @classmethod
    def of(cls, dictionary: Dictionary) -> Columns:
        """The columns of a city's enterprise data dictionary, with each field's unit."""
        return cls(dictionary.names, {f.name: f.unit for f in dictionary.fields})

    def yuan(self, name: str | None) -> float:
        """How many yuan one unit of a money field is, from the dictionary's unit (万元 → 10000).

        A field without a unit is taken as yuan; a money unit in another currency is refused,
        since no exchange rate is known here.
        """
        unit = self.units.get(name or "", "")
        if unit in _YUAN:
            return _YUAN[unit]
        if unit.endswith(("美元", "欧元", "港元", "日元")):
            raise RuleError(f"a rate of {name!r} would mix currencies: its unit is {unit}")
        return 1.0

    def __call__(self, name: str | None) -> str:
        """The quoted column of a known enterprise field (RuleError for anything else)."""
        quoted = self.quoted.get(name or "")
        if quoted is None:
            raise RuleError(f"unknown enterprise field {name!r:.80}")
        return quoted


def literal(value: Any, as_of: date) -> str:
    """A SQL literal from a typed value; ``{"year_offset": n}`` is the evaluation year plus n.

    RuleError for anything that is not a finite number, a bool, a date or plain text.
    """
    if isinstance(value, dict) and set(value) == {"year_offset"} and type(value["year_offset"]) is int:
        return str(as_of.year + value["year_offset"])
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RuleError(f"not a finite number: {value!r}")
        return repr(float(value))
    if isinstance(value, date):
        return f"DATE '{date(value.year, value.month, value.day).isoformat()}'"
    if isinstance(value, str):
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise RuleError(f"text values may not hold control characters: {value!r:.80}")
        return "'" + value.replace("'", "''") + "'"
    raise RuleError(f"not a value a rule may compare with: {value!r:.80}")


def resolve(value: Any, as_of: date) -> Any:
    """The Python value a rule value stands for on ``as_of`` (for explanations)."""
    if isinstance(value, dict) and "year_offset" in value:
        return as_of.year + int(value["year_offset"])
    return value


def condition_sql(c: Condition, as_of: date, column: Columns) -> str:  # noqa: PLR0911 - one per operator
    """The condition as a SQL boolean (NULL when a value it needs is missing)."""
    if c.all is not None:
        return "(" + " AND ".join(condition_sql(x, as_of, column) for x in c.all) + ")"
    if c.any is not None:
        return "(" + " OR ".join(condition_sql(x, as_of, column) for x in c.any) + ")"
    if c.not_ is not None:
        return f"(NOT {condition_sql(c.not_, as_of, column)})"
    col = column(c.field)
    op = c.op
    if op in _CMP:
        return f"({col} {_CMP[op]} {literal(c.value, as_of)})"
    if op == "between":
        low, high = c.value
        return f"({col} BETWEEN {literal(low, as_of)} AND {literal(high, as_of)})"
    if op in ("in", "not_in"):
        items = ", ".join(literal(v, as_of) for v in c.value)
        return f"({col} {'NOT ' if op == 'not_in' else ''}IN ({items}))"
    if op == "is_true":
        return f"({col} = TRUE)"
    if op == "is_false":
        return f"({col} = FALSE)"
    if op == "years_since_ge":
        cutoff = date(as_of.year - int(c.value), as_of.month, min(as_of.day, 28))
        return f"({col} <= {literal(cutoff, as_of)})"
    if op in ("ratio_ge", "ratio_le"):
        ratio = f"({col} / NULLIF({column(c.of)}, 0))"
        return f"({ratio} {'>=' if op == 'ratio_ge' else '<='} {literal(c.value, as_of)})"
    raise RuleError(f"unknown operator {op!r:.40}")


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        raise RuleError(f"not a finite amount: {value!r}")
    return repr(float(value))


def _tier_amount(t: Tier, column: Columns) -> str:
    if t.amount is not None and t.per is not None:  # 每人 1500 元: a fixed amount per unit of a count
        return f"({column(t.per)} * {_number(t.amount)})"
    if t.amount is not None:
        return _number(t.amount)
    return f"({column(t.of)} * {_number(t.rate)} * {_number(column.yuan(t.of))})"


def amount_sql(rule: PolicyRule, as_of: date, column: Columns) -> str:
    """The benefit in yuan: the first tier whose condition holds, capped."""
    whens = " ".join(
        f"WHEN {condition_sql(t.when, as_of, column) if t.when else 'TRUE'} THEN {_tier_amount(t, column)}"
        for t in rule.benefit.tiers
    )
    amount = f"(CASE {whens} ELSE NULL END)"
    return f"LEAST({amount}, {_number(rule.benefit.cap)})" if rule.benefit.cap is not None else amount


DIALECTS = ("duckdb", "postgres", "mysql", "spark", "trino", "bigquery", "snowflake", "clickhouse")


def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB) rewritten for ``dialect`` by sqlglot; ValueError names an unknown dialect."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    import sqlglot  # noqa: PLC0415 - only when a city asks for another engine's SQL

    return str(sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0])


def condition_columns(rule: PolicyRule) -> tuple[list[str], list[str]]:
    """The output column of each condition and each exclusion, by position (never by the rule's ids)."""
    return [f"c_{i}" for i in range(len(rule.conditions))], [f"x_{i}" for i in range(len(rule.exclusions))]


def decision_sql(rule: PolicyRule, as_of: date, dictionary: Dictionary) -> str:
    """One row per enterprise: the decision, the amount, and every condition's TRUE / FALSE / NULL.

    Every field is checked against ``dictionary`` (RuleError names one it lacks), and the statement
    against :func:`verify` before it is returned; cached per rule version, day and dictionary.
    """
    body = rule.model_dump_json(by_alias=True, exclude={"tests"})  # test cases do not change the SQL
    return _decision_sql(body, as_of, dictionary)


@lru_cache(maxsize=256)
def _decision_sql(body: str, as_of: date, dictionary: Dictionary) -> str:  # a frozen model: hashable
    try:  # validated again, against the city's fields: a rule built without validation is still checked
        rule = PolicyRule.model_validate_json(body, context={"dictionary": dictionary})
    except ValidationError as exc:
        raise RuleError(f"not a valid rule: {exc.errors()[0]['msg']}") from exc
    column = Columns.of(dictionary)
    sql = _compose(rule, as_of, column)
    conds, excls = condition_columns(rule)
    verify(sql, known=[*column.quoted, *_OUTPUT, *conds, *excls])
    return sql


def _compose(rule: PolicyRule, as_of: date, column: Columns) -> str:
    cond_names, excl_names = condition_columns(rule)
    conds = [(n, condition_sql(c, as_of, column)) for n, c in zip(cond_names, rule.conditions, strict=True)]
    excls = [(n, condition_sql(c, as_of, column)) for n, c in zip(excl_names, rule.exclusions, strict=True)]
    every_cond = " AND ".join(e for _, e in conds) or "TRUE"
    any_excl = " OR ".join(e for _, e in excls) or "FALSE"
    columns = ",\n  ".join(f"{expr} AS {name}" for name, expr in [*conds, *excls])
    # A policy not in force on the day decides nothing: no enterprise is eligible, in any list.
    in_force = "" if rule.valid_on(as_of) else "WHEN TRUE THEN 'not_in_force'\n       "
    return f"""SELECT credit_code, name,
  CASE {in_force}WHEN ({every_cond}) = FALSE OR ({any_excl}) = TRUE THEN 'not_eligible'
       WHEN ({every_cond}) IS NULL OR ({any_excl}) IS NULL THEN 'missing_data'
       ELSE 'eligible' END AS decision,
  {amount_sql(rule, as_of, column)} AS amount,
  {columns}
FROM {TABLE}"""


# What a decision statement is made of; any other node in the parsed statement is refused.
_ALLOWED_NODES = frozenset({
    "Select", "From", "Table", "Alias", "Identifier", "Column", "Literal", "Boolean", "Null", "Paren",
    "And", "Or", "Not", "Is", "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "Between", "In", "Neg", "Div", "Mul",
    "Case", "If", "Least", "Nullif", "Cast", "DataType",
})  # fmt: skip


def verify(sql: str, *, known: list[str]) -> None:
    """RuleError unless ``sql`` is one SELECT over the enterprise table using known columns only.

    A second line of defence behind the typed construction above: no sub-select, no table but
    ``enterprises``, no function beyond LEAST / NULLIF / CASE, no column outside the field list.
    """
    import sqlglot  # noqa: PLC0415 - imported on first use (cached per rule version)
    from sqlglot import exp  # noqa: PLC0415

    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise RuleError(f"the rule does not compile to valid SQL: {exc}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise RuleError("the rule must compile to exactly one SELECT")
    tree = statements[0]
    allowed = set(known)
    selects = list(tree.find_all(exp.Select))
    tables = {t.name for t in tree.find_all(exp.Table)}
    if len(selects) != 1 or tables != {TABLE}:
        raise RuleError("the rule's SQL may read only the enterprise table, without sub-selects")
    for node in tree.walk():
        if type(node).__name__ not in _ALLOWED_NODES:
            raise RuleError(
                f"the rule's SQL holds something rules may not use: {node.key} {node.sql()!r:.60}"
            )
        if isinstance(node, exp.Column) and (node.table or node.name not in allowed):
            raise RuleError(f"the rule's SQL names an unknown column {node.sql()!r:.80}")
        if isinstance(node, exp.DataType) and node.this != exp.DataType.Type.DATE:
            raise RuleError(f"the rule's SQL casts to {node.sql()!r:.40}: only dates are written as casts")
