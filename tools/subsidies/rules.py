"""The eligibility rule language of 免申即享 policies (YAML or JSON, validated by these models).

A rule names its policy document, its mode (``apply_free`` 免申即享, ``confirm`` 免申即享但需确认,
``apply`` 需申报), its validity window, the conditions an enterprise must meet (all of them),
the exclusions that rule it out (any of them), and the benefit. Every condition and exclusion
quotes the clause it comes from. A condition is a leaf over one enterprise field, or a group:
``all`` / ``any`` / ``not``. Values may be literals or ``{"year_offset": -1}`` (the year before the
evaluation date: 上一年度). Example: ``service/demo_city/pack/rules/``.

Leaf operators: ``eq ne gt ge lt le`` (a value), ``between`` ([low, high], inclusive), ``in`` /
``not_in`` (a list), ``is_true`` / ``is_false``, ``years_since_ge`` (a date field at least N
years before the evaluation date: 成立满N年), ``ratio_ge`` / ``ratio_le`` (field ÷ ``of`` field
against a number: 研发费用占营业收入比例). A missing enterprise value makes the leaf unknown,
never false: the decision is then ``missing_data`` naming the field.

A rule may carry test cases (``tests:``): an enterprise's facts (by field name or Chinese label;
a field not given is missing), the evaluation day, and the expected decision and amount, written
from the policy's clauses. They are stored with each version, run at review and in CI, and a
failing one blocks approval (:mod:`tools.subsidies.cases`).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tools.enterprises.dictionary import IDENTIFIER, Dictionary

Op = Literal[
    "eq", "ne", "gt", "ge", "lt", "le", "between", "in", "not_in", "is_true", "is_false",
    "years_since_ge", "ratio_ge", "ratio_le",
]  # fmt: skip
Mode = Literal["apply_free", "confirm", "apply"]
FIELD_NAME = IDENTIFIER  # a field's spelling; whether the city has it is the dictionary's to say

# A condition id names an output column of the rule's SQL (by position, never by its text) and
# appears in explanations: plain identifiers only, so it can never carry SQL or markup.
CONDITION_ID = r"^[a-z][a-z0-9_]{0,39}$"
MAX_TEXT_VALUE = 200  # characters of one string value (industries, levels, districts)
MAX_LIST_VALUE = 500  # items of an ``in`` / ``not_in`` list
MAX_CASES = 100  # test cases of one rule
Decided = Literal["eligible", "not_eligible", "missing_data", "not_in_force"]


class RuleError(ValueError):
    """A rule that cannot be used (says which rule, which condition, which field)."""


class Clause(BaseModel):
    """Where a condition comes from: the article and the words of the policy document."""

    model_config = ConfigDict(extra="forbid")

    article: str = Field(pattern=r"^第[一二三四五六七八九十百零〇\d]+条$")
    quote: str = Field(min_length=2)


class Condition(BaseModel):
    """A leaf (``field`` + ``op``) or a group (``all`` / ``any`` / ``not``)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=CONDITION_ID)
    label: str | None = Field(default=None, max_length=200)
    field: str | None = Field(default=None, pattern=FIELD_NAME)
    op: Op | None = None
    value: Any = None
    of: str | None = Field(default=None, pattern=FIELD_NAME)
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    clause: Clause | None = None

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> Condition:
        groups = [g for g in (self.all, self.any, self.not_) if g is not None]
        if self.field is None and len(groups) != 1:
            raise ValueError("a condition is a leaf (field + op) or exactly one of all / any / not")
        if self.field is not None:
            if groups:
                raise ValueError(f"condition on {self.field!r} cannot also be a group")
            if self.op is None:
                raise ValueError(f"condition on {self.field!r} needs an op")
            if self.op in ("ratio_ge", "ratio_le") and self.of is None:
                raise ValueError(f"{self.op} on {self.field!r} needs 'of': the field it is divided by")
            if self.of is not None and self.op not in ("ratio_ge", "ratio_le"):
                raise ValueError(f"'of' is only for ratio_ge / ratio_le, not {self.op} on {self.field!r}")
            if self.op not in ("is_true", "is_false") and self.value is None:
                raise ValueError(f"{self.op} on {self.field!r} needs a value")
            check_value(str(self.op), self.value, where=f"condition on {self.field!r}")
            dictionary = _dictionary(info)
            if dictionary is not None:
                check_leaf(self, dictionary)
        elif self.of is not None or self.op is not None or self.value is not None:
            raise ValueError("a group (all / any / not) has no op, value or of")
        return self

    def fields(self) -> list[str]:
        """Every enterprise field the condition reads."""
        if self.field is not None:
            return [self.field, *([self.of] if self.of else [])]
        children = self.all or self.any or ([self.not_] if self.not_ else [])
        return [f for child in children for f in child.fields()]


def _dictionary(info: ValidationInfo) -> Dictionary | None:
    context = info.context if isinstance(info.context, dict) else {}
    found = context.get("dictionary")
    return found if isinstance(found, Dictionary) else None


def _known(name: str | None, dictionary: Dictionary) -> str:
    if name is None or name not in dictionary:
        raise ValueError(f"unknown enterprise field {name!r:.80} (known: {', '.join(dictionary.names)})")
    return name


def check_leaf(c: Condition, dictionary: Dictionary) -> None:
    """ValueError unless the leaf's fields are the city's and its operator and values fit their types."""
    spec = dictionary.field(_known(c.field, dictionary))
    op = str(c.op)
    if op in ("ratio_ge", "ratio_le"):
        if not (dictionary.numeric(spec.name) and dictionary.numeric(_known(c.of, dictionary))):
            raise ValueError(f"{op} divides numbers: {spec.name!r} and {c.of!r} must both be numeric fields")
    elif op in ("is_true", "is_false") and spec.type != "boolean":
        raise ValueError(f"{op} needs a 是/否 field; {spec.name!r} is {spec.type}")
    elif op == "years_since_ge" and spec.type != "date":
        raise ValueError(f"years_since_ge needs a date field; {spec.name!r} is {spec.type}")
    if spec.values is not None and op in ("eq", "ne", "in", "not_in"):
        given = c.value if isinstance(c.value, list) else [c.value]
        wrong = [v for v in given if v not in spec.values]
        if wrong:
            raise ValueError(f"{spec.name!r} takes {'/'.join(spec.values)}, not {', '.join(map(str, wrong))}")


def _scalar_ok(value: Any) -> bool:
    """A literal a rule may compare with: a finite number, a bool, a date, plain text, or 上一年度."""
    if isinstance(value, bool | date):
        return True
    if isinstance(value, int):
        return abs(value) < 10**15
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_TEXT_VALUE and not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    if isinstance(value, dict):
        offset = value.get("year_offset")
        return set(value) == {"year_offset"} and type(offset) is int and -100 <= offset <= 100
    return False


def check_value(op: str, value: Any, *, where: str) -> None:
    """ValueError unless ``value`` has the shape ``op`` needs (scalars, pairs, lists of scalars)."""
    if op in ("is_true", "is_false"):
        if value is not None:
            raise ValueError(f"{op} in {where} takes no value")
        return
    if op == "between":
        ok = isinstance(value, list) and len(value) == 2 and all(_scalar_ok(v) for v in value)
        shape = "a list [low, high] of two plain values"
    elif op in ("in", "not_in"):
        ok = (
            isinstance(value, list) and 0 < len(value) <= MAX_LIST_VALUE and all(_scalar_ok(v) for v in value)
        )
        shape = f"a list of 1 to {MAX_LIST_VALUE} plain values"
    elif op in ("years_since_ge", "ratio_ge", "ratio_le"):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and _scalar_ok(value)
        ok = ok and (op != "years_since_ge" or 0 <= value <= 200)
        shape = "a finite number" + (" of years (0 to 200)" if op == "years_since_ge" else "")
    else:
        ok = _scalar_ok(value)
        shape = (
            f"one plain value (a finite number, true/false, a date, text up to {MAX_TEXT_VALUE} characters "
            'without control characters, or {"year_offset": n})'
        )
    if not ok:
        raise ValueError(f"{op} in {where} needs {shape}, got {value!r:.80}")


class Tier(BaseModel):
    """An amount that applies when its condition holds (first matching tier wins)."""

    model_config = ConfigDict(extra="forbid")

    when: Condition | None = None
    amount: float | None = Field(default=None, ge=0, le=1e12, allow_inf_nan=False)
    rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    of: str | None = Field(default=None, pattern=FIELD_NAME)  # the money field a rate applies to
    per: str | None = Field(default=None, pattern=FIELD_NAME)  # the count an amount is paid per (每人)

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> Tier:
        if (self.amount is None) == (self.rate is None):
            raise ValueError("a tier has either an amount or a rate (with 'of'), not both or neither")
        if self.rate is not None and self.of is None:
            raise ValueError("a rate needs 'of': the numeric field it applies to")
        if self.amount is not None and self.of is not None:
            raise ValueError("'of' is only for a rate; an amount paid per head names its count in 'per'")
        if self.rate is not None and self.per is not None:
            raise ValueError("'per' is only for an amount (每人 N 元); a rate names its field in 'of'")
        dictionary = _dictionary(info)
        for name, what in ((self.of, "a rate applies to"), (self.per, "an amount is paid per")):
            if (
                dictionary is not None
                and name is not None
                and not dictionary.numeric(_known(name, dictionary))
            ):
                raise ValueError(f"{what} a numeric field; {name!r} is not one")
        return self

    def fields(self) -> list[str]:
        """The enterprise fields the amount reads (besides its condition's)."""
        return [n for n in (self.of, self.per) if n]


class Benefit(BaseModel):
    """The amount, in yuan: tiers of fixed amounts or rates, with an optional cap."""

    model_config = ConfigDict(extra="forbid")

    tiers: list[Tier] = Field(min_length=1, max_length=50)
    cap: float | None = Field(default=None, ge=0, le=1e12, allow_inf_nan=False)
    clause: Clause


class Expected(BaseModel):
    """What a test case expects: the decision, and for ``eligible`` the amount in yuan."""

    model_config = ConfigDict(extra="forbid")

    decision: Decided
    amount: float | None = Field(default=None, ge=0, le=1e12, allow_inf_nan=False)

    @model_validator(mode="after")
    def _amount(self) -> Expected:
        if self.decision != "eligible" and self.amount is not None:
            raise ValueError(f"only an eligible case has an amount, not {self.decision}")
        return self


class RuleCase(BaseModel):
    """One test case: an enterprise's facts on a day, and the decision (and amount) the rule must give."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    as_of: date
    facts: dict[str, Any] = Field(max_length=500)
    expect: Expected
    clause: Clause | None = None  # the article the case is written from

    @field_validator("facts")
    @classmethod
    def _known_facts(cls, facts: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        dictionary = _dictionary(info)
        if dictionary is not None:
            case_facts(facts, dictionary)  # every field the city's, every value of its type
        return facts


def case_facts(facts: dict[str, Any], dictionary: Dictionary) -> dict[str, Any]:
    """A case's facts (by field name or Chinese label) as typed field values.

    ValueError names the fact that is not one of the city's fields or whose value does not fit.
    """
    values: dict[str, Any] = {}
    for key, raw in facts.items():
        spec = dictionary.field(key) if key in dictionary else dictionary.by_label(str(key))
        if spec is None:
            raise ValueError(f"unknown enterprise field {key!r:.80} (known: {', '.join(dictionary.names)})")
        if spec.name in values:
            raise ValueError(f"{key}: {spec.label} is given twice")
        try:
            values[spec.name] = spec.parse(raw.isoformat() if isinstance(raw, date) else raw)
        except ValueError as exc:
            raise ValueError(f"{key}: {raw!r:.40} does not fit {spec.label} ({spec.type}): {exc}") from exc
    return values


class PolicyRule(BaseModel):
    """One policy's eligibility rules, versioned with its document."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$")
    version: int = Field(ge=1)
    document: str
    doc_number: str = ""
    mode: Mode
    status: Literal["draft", "active", "retired", "returned"] = "active"
    valid_from: date
    valid_to: date | None = None
    conditions: list[Condition] = Field(min_length=1)
    exclusions: list[Condition] = Field(default_factory=list)
    benefit: Benefit
    tests: list[RuleCase] = Field(default_factory=list, max_length=MAX_CASES)

    @model_validator(mode="after")
    def _named(self) -> PolicyRule:
        seen: set[str] = set()
        for c in [*self.conditions, *self.exclusions]:
            if not c.id or not c.label or c.clause is None:
                raise ValueError(
                    "every top-level condition and exclusion needs an id, a label and its clause"
                )
            if c.id in seen:
                raise ValueError(f"duplicate condition id {c.id!r}")
            seen.add(c.id)
        names = [t.name for t in self.tests]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate test case name {next(n for n in names if names.count(n) > 1)!r}")
        return self

    def valid_on(self, day: date) -> bool:
        """Whether the policy is in force on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def parse_rule(data: Any, dictionary: Dictionary | None) -> PolicyRule:
    """A rule from its JSON/YAML data, checked against the city's dictionary when one is given."""
    return PolicyRule.model_validate(data, context={"dictionary": dictionary} if dictionary else None)


def load_rule(path: Path, dictionary: Dictionary | None = None) -> PolicyRule:
    """A rule file (YAML or JSON); a bad one raises :class:`RuleError` naming the file and the problem.

    With ``dictionary``, every field the rule names must be one of the city's, of a fitting type.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return parse_rule(data, dictionary)
    except (yaml.YAMLError, OSError) as exc:
        raise RuleError(f"{path}: cannot read: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(rule)"
        raise RuleError(f"{path}: {where}: {first['msg']}") from exc


def load_rules(folder: Path, dictionary: Dictionary | None = None) -> list[PolicyRule]:
    """Every ``*.yaml`` / ``*.json`` rule in a folder (the first bad one raises)."""
    files = sorted(folder.iterdir())
    return [load_rule(p, dictionary) for p in files if p.suffix in (".yaml", ".yml", ".json")]
