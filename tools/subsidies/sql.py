"""Rules compiled to SQL: one boolean expression per condition, with SQL's three-valued logic.

A leaf over a NULL field is NULL (unknown), and AND / OR / NOT treat NULL the way the decision
needs (FALSE AND NULL is FALSE; TRUE OR NULL is TRUE), so ``missing_data`` falls out of the
SQL itself. The generated SQL is plain ANSI with ``CASE``: it runs on DuckDB by default and can
be transpiled (``sqlglot``) for a warehouse.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tools.subsidies.rules import Condition, PolicyRule, Tier

_CMP = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def literal(value: Any, as_of: date) -> str:
    """A SQL literal; ``{"year_offset": n}`` is the evaluation year plus n."""
    if isinstance(value, dict) and "year_offset" in value:
        return str(as_of.year + int(value["year_offset"]))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def resolve(value: Any, as_of: date) -> Any:
    """The Python value a rule value stands for on ``as_of`` (for explanations)."""
    if isinstance(value, dict) and "year_offset" in value:
        return as_of.year + int(value["year_offset"])
    return value


def condition_sql(c: Condition, as_of: date) -> str:  # noqa: PLR0911 - one return per operator
    """The condition as a SQL boolean (NULL when a value it needs is missing)."""
    if c.all is not None:
        return "(" + " AND ".join(condition_sql(x, as_of) for x in c.all) + ")"
    if c.any is not None:
        return "(" + " OR ".join(condition_sql(x, as_of) for x in c.any) + ")"
    if c.not_ is not None:
        return f"(NOT {condition_sql(c.not_, as_of)})"
    col = f'"{c.field}"'
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
        return f"({col} <= DATE '{cutoff.isoformat()}')"
    ratio = f'({col} / NULLIF("{c.of}", 0))'
    return f"({ratio} {'>=' if op == 'ratio_ge' else '<='} {literal(c.value, as_of)})"


def _tier_amount(t: Tier) -> str:
    if t.amount is not None:
        return repr(float(t.amount))
    factor = 10000.0 if t.of and t.of.endswith("_10k") else 1.0
    return f'("{t.of}" * {t.rate} * {factor})'


def amount_sql(rule: PolicyRule, as_of: date) -> str:
    """The benefit in yuan: the first tier whose condition holds, capped."""
    whens = " ".join(
        f"WHEN {condition_sql(t.when, as_of) if t.when else 'TRUE'} THEN {_tier_amount(t)}"
        for t in rule.benefit.tiers
    )
    amount = f"(CASE {whens} ELSE NULL END)"
    return f"LEAST({amount}, {float(rule.benefit.cap)})" if rule.benefit.cap is not None else amount


DIALECTS = ("duckdb", "postgres", "mysql", "spark", "trino", "bigquery", "snowflake", "clickhouse")


def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB) rewritten for ``dialect`` by sqlglot; ValueError names an unknown dialect."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    import sqlglot  # noqa: PLC0415 - only when a city asks for another engine's SQL

    return str(sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0])


def decision_sql(rule: PolicyRule, as_of: date, table: str = "enterprises") -> str:
    """One row per enterprise: the decision, the amount, and every condition's TRUE / FALSE / NULL."""
    conds = [(f"c_{c.id}", condition_sql(c, as_of)) for c in rule.conditions]
    excls = [(f"x_{c.id}", condition_sql(c, as_of)) for c in rule.exclusions]
    every_cond = " AND ".join(e for _, e in conds) or "TRUE"
    any_excl = " OR ".join(e for _, e in excls) or "FALSE"
    columns = ",\n  ".join(f"{expr} AS {name}" for name, expr in [*conds, *excls])
    return f"""SELECT credit_code, name,
  CASE WHEN ({every_cond}) = FALSE OR ({any_excl}) = TRUE THEN 'not_eligible'
       WHEN ({every_cond}) IS NULL OR ({any_excl}) IS NULL THEN 'missing_data'
       ELSE 'eligible' END AS decision,
  {amount_sql(rule, as_of)} AS amount,
  {columns}
FROM {table}"""
