"""A policy what-if: a rule version run against the active one on the city's enterprises.

Before approving, an officer sees how many enterprises each version finds eligible, not eligible
or missing data, the total amount before and after, and the enterprises whose decision or amount
changes, each with why: the conditions whose outcome changes, what each version expects, the
clause it cites, and the enterprise's values of the fields it reads (non-public facts: the
result is for staff only). With no active version the baseline is "nothing eligible".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from tools.subsidies.matcher import Matcher, Outcome, expected_words
from tools.subsidies.rules import Condition, PolicyRule

DECISIONS = ("eligible", "not_eligible", "missing_data", "not_in_force")
# decisions in the officer's words (``invalid_case``: a test case whose facts the city's fields no longer fit)
WORDS = {
    "eligible": "符合",
    "not_eligible": "不符合",
    "missing_data": "缺少数据",
    "not_in_force": "不在有效期内",
    "invalid_case": "用例无法运行",
}
DEFAULT_LIMIT = 200  # changed enterprises listed (all are counted)


@dataclass(frozen=True)
class Side:
    """One version's totals: enterprises per decision and the amount of the eligible ones, in yuan."""

    version: int | None
    status: str
    counts: dict[str, int]
    total: float


@dataclass(frozen=True)
class Reason:
    """A condition whose outcome changes for one enterprise (or the benefit, when only the amount does)."""

    id: str
    kind: str  # condition / exclusion / benefit
    label: str
    before: str | None  # pass / fail / missing, applies / clear / missing; None: not in that version
    after: str | None
    expected_before: str | None
    expected_after: str | None
    citation: str
    quote: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """An enterprise whose decision or amount changes."""

    credit_code: str
    name: str
    decision_before: str
    amount_before: float | None
    decision_after: str
    amount_after: float | None
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class Simulation:
    """A candidate version against the baseline on every enterprise of the registry."""

    rule_id: str
    as_of: str
    enterprises: int
    before: Side
    after: Side
    changed_total: int
    changed: list[Change]

    @property
    def truncated(self) -> bool:
        """Whether more enterprises changed than are listed."""
        return self.changed_total > len(self.changed)

    def as_dict(self) -> dict[str, Any]:
        """The simulation as JSON-ready data."""
        return {**asdict(self), "truncated": self.truncated}


_Row = Outcome


def _word(flag: bool | None, *, exclusion: bool) -> str:
    if flag is None:
        return "missing"
    if exclusion:
        return "applies" if flag else "clear"
    return "pass" if flag else "fail"


def _outcomes(rule: PolicyRule | None, row: _Row | None) -> dict[str, tuple[Condition, str, str]]:
    """Condition id → (condition, kind, outcome) for one enterprise under one version."""
    if rule is None or row is None:
        return {}
    flags = row[4]
    parts = [(c, "condition") for c in rule.conditions] + [(c, "exclusion") for c in rule.exclusions]
    return {
        str(c.id): (c, kind, _word(flag, exclusion=kind == "exclusion"))
        for (c, kind), flag in zip(parts, flags, strict=True)
    }


def _changed(before: _Row | None, after: _Row) -> bool:
    decision_before = before[2] if before else "not_eligible"
    amount_before = before[3] if before and decision_before == "eligible" else None
    amount_after = after[3] if after[2] == "eligible" else None
    if decision_before != after[2]:
        return True
    return (amount_before is None) != (amount_after is None) or (
        amount_before is not None and amount_after is not None and abs(amount_before - amount_after) >= 0.005
    )


def _side(rule: PolicyRule | None, status: str, rows: dict[str, _Row], size: int) -> Side:
    if rule is None:
        return Side(None, status, {"not_eligible": size} if size else {}, 0.0)
    counts: dict[str, int] = {}
    total = 0.0
    for row in rows.values():
        counts[row[2]] = counts.get(row[2], 0) + 1
        if row[2] == "eligible" and row[3] is not None:
            total += row[3]
    return Side(rule.version, status, {d: counts[d] for d in DECISIONS if d in counts}, round(total, 2))


def simulate(
    matcher: Matcher,
    candidate: PolicyRule,
    baseline: PolicyRule | None,
    as_of: date,
    *,
    candidate_status: str = "draft",
    baseline_status: str = "active",
    limit: int = DEFAULT_LIMIT,
) -> Simulation:
    """``candidate`` against ``baseline`` (None: nothing eligible) on every enterprise of ``matcher``."""
    after = {r[0]: r for r in matcher.outcomes(candidate, as_of)}
    before = {r[0]: r for r in matcher.outcomes(baseline, as_of)} if baseline else {}
    changed_codes = [code for code, row in after.items() if _changed(before.get(code), row)]
    listed = changed_codes[: max(0, limit)]
    records = matcher.records(listed)
    changes = [
        _change(
            code,
            before.get(code),
            after[code],
            rules=(baseline, candidate),
            values=records.get(code, {}),
            matcher=matcher,
            as_of=as_of,
        )
        for code in listed
    ]
    return Simulation(
        candidate.id,
        as_of.isoformat(),
        len(after),
        _side(baseline, baseline_status if baseline else "none", before, len(after)),
        _side(candidate, candidate_status, after, len(after)),
        len(changed_codes),
        changes,
    )


def _change(
    code: str,
    before: _Row | None,
    after: _Row,
    *,
    rules: tuple[PolicyRule | None, PolicyRule],
    values: dict[str, Any],
    matcher: Matcher,
    as_of: date,
) -> Change:
    dictionary = matcher.dictionary
    baseline, candidate = rules
    old, new = _outcomes(baseline, before), _outcomes(candidate, after)
    reasons = []
    for cid in dict.fromkeys([*new, *old]):
        was, now = old.get(cid), new.get(cid)
        if was is not None and now is not None and was[2] == now[2]:
            continue
        c, kind = (now or was)[:2]  # type: ignore[index]  # one of them is set
        rule = candidate if now is not None else baseline
        assert c.clause is not None and rule is not None
        fields = list(dict.fromkeys(c.fields() + (was[0].fields() if was else [])))
        reasons.append(
            Reason(
                cid, kind, str(c.label), was[2] if was else None, now[2] if now else None,
                expected_words(was[0], as_of, dictionary) if was else None,
                expected_words(now[0], as_of, dictionary) if now else None,
                f"〔{rule.document} {c.clause.article}〕", c.clause.quote,
                {dictionary.label(f): values.get(f) for f in fields},
            )
        )  # fmt: skip
    decision_before = before[2] if before else "not_eligible"
    amount_before = before[3] if before and decision_before == "eligible" else None
    amount_after = after[3] if after[2] == "eligible" else None
    if not reasons and decision_before == after[2] == "eligible":
        benefit = candidate.benefit
        fields = [f for t in benefit.tiers for f in [*(t.when.fields() if t.when else []), *t.fields()]]
        reasons.append(
            Reason(
                "benefit", "benefit", "奖补标准", None, None, None, None,
                f"〔{candidate.document} {benefit.clause.article}〕", benefit.clause.quote,
                {dictionary.label(f): values.get(f) for f in dict.fromkeys(fields)},
            )
        )  # fmt: skip
    return Change(code, after[1], decision_before, amount_before, after[2], amount_after, reasons)
