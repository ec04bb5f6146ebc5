"""A rule's test cases, run on the matcher: each case's facts alone, its day, the decision and amount.

A case passes when the rule gives the expected decision and, for ``eligible``, the expected amount
(to the fen). A failing case says why: what the rule decided, and the conditions that failed, were
missing or excluded, each with its clause. :class:`CasesFailed` (a failing case blocks approval)
carries every result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.enterprises.dictionary import Dictionary
from tools.subsidies.matcher import Decision, Matcher
from tools.subsidies.rules import PolicyRule, RuleCase, RuleError, case_facts
from tools.subsidies.whatif import WORDS


@dataclass(frozen=True)
class CaseResult:
    """One test case run: what it expected, what the rule gave, and why."""

    name: str
    as_of: str
    passed: bool
    expected_decision: str
    expected_amount: float | None
    decision: str
    amount: float | None
    why: list[str] = field(default_factory=list)
    article: str | None = None

    def message(self) -> str:
        """``「首次认定获20万元」期望 符合 200,000 元，实际 不符合：在本市注册登记 不满足〔… 第三条〕``."""
        want = WORDS[self.expected_decision] + _yuan(self.expected_amount)
        got = WORDS.get(self.decision, self.decision) + _yuan(self.amount)
        head = f"「{self.name}」（{self.as_of}）期望 {want}，实际 {got}"
        return head + ("：" + "；".join(self.why) if self.why else "")


class CasesFailed(RuleError):
    """A rule version whose test cases do not all pass (the message names each failing case and why)."""

    def __init__(self, rule_id: str, version: int, results: list[CaseResult]) -> None:
        failed = [r for r in results if not r.passed]
        super().__init__(
            f"{rule_id} v{version}: {len(failed)} of {len(results)} test cases fail: "
            + " | ".join(r.message() for r in failed)
        )
        self.results = results


def _yuan(amount: float | None) -> str:
    return "" if amount is None else f" {amount:,.2f} 元".replace(".00 ", " ")


def _why(decision: Decision | None) -> list[str]:
    """The conditions behind a decision: failed, missing (naming the fields), or excluding; with clauses."""
    if decision is None:
        return []
    out = []
    for c in decision.conditions:
        if c.outcome in ("fail", "applies"):
            verb = "不满足" if c.outcome == "fail" else "属于排除情形"
            out.append(f"{c.label} {verb}（{c.expected}）{c.citation}")
        elif c.outcome == "missing":
            out.append(f"{c.label} 缺少 {'、'.join(c.missing)}{c.citation}")
    return out


def run_case(rule: PolicyRule, case: RuleCase, dictionary: Dictionary) -> CaseResult:
    """One case on a one-row matcher of its facts alone (a fact the city lacks fails the case)."""
    try:
        facts = case_facts(case.facts, dictionary)
    except ValueError as exc:  # the city's fields changed since the case was written
        return CaseResult(
            case.name, case.as_of.isoformat(), False, case.expect.decision, case.expect.amount,
            "invalid_case", None, [str(exc)],
        )  # fmt: skip
    code = "TESTCASE"
    decided = Matcher.explain_declared(
        dictionary, code, facts, [rule.model_copy(update={"status": "active"})], case.as_of
    )
    found = decided[0] if decided else None
    decision = found.decision if found else "not_in_force"
    amount = found.amount if found and decision == "eligible" else None
    want = case.expect
    passed = decision == want.decision and (
        want.decision != "eligible"
        or want.amount is None
        or (amount is not None and abs(amount - want.amount) < 0.005)
    )
    why = [] if passed else _why(found)
    if not passed and decision == want.decision == "eligible":
        why.append(f"金额按 {rule.benefit.clause.article} 计算")
    return CaseResult(
        case.name, case.as_of.isoformat(), passed, want.decision, want.amount, decision, amount, why,
        case.clause.article if case.clause else None,
    )  # fmt: skip


def run_cases(rule: PolicyRule, dictionary: Dictionary) -> list[CaseResult]:
    """Every test case of ``rule``, in order."""
    return [run_case(rule, case, dictionary) for case in rule.tests]


def check_cases(rule: PolicyRule, dictionary: Dictionary) -> list[CaseResult]:
    """The results when every case passes; :class:`CasesFailed` naming the failing ones otherwise."""
    results = run_cases(rule, dictionary)
    if any(not r.passed for r in results):
        raise CasesFailed(rule.id, rule.version, results)
    return results
