"""Drafting a policy's rules with the model: structured output against the rule schema, quotes checked.

The model reads the policy document and answers with a :class:`PolicyRule` (validated, retried
once with the validation error). Every condition, exclusion and the benefit must quote the
document; a quote that is not found word for word in it is flagged, and the draft is stored as
a draft only: a policy officer approves it before it takes effect.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.enterprises.dictionary import Dictionary
from tools.llm import LLMClient, LLMOutputError
from tools.subsidies.rules import Condition, Mode, Op, PolicyRule, parse_rule

DRAFT_ID = "subsidy.draft.v1"
SYSTEM = (
    "你是政策规则工程师。把惠企政策文件中的申报条件写成 JSON 规则，只依据文件原文，不要编造条件。"
    "每个条件的 clause.quote 必须逐字摘自文件原文，clause.article 写条号（如 第三条）。"
    'field 只能使用给出的企业字段名；“上一年度”写作 {"year_offset": -1}；金额以元为单位；'
    "失信、欠税、重大事故等写在 exclusions 里（条件为真时不予享受）。"
)


class DraftCondition(BaseModel):
    """One condition as the model writes it: flat (groups are for people to add on review)."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(description="条件的简短中文说明")
    field: str = Field(description="企业字段名")
    op: Op
    value: Any = Field(default=None, description='比较值；上一年度写 {"year_offset": -1}')
    of: str | None = Field(default=None, description="ratio_ge/ratio_le 的分母字段")
    exclusion: bool = Field(default=False, description="true: 条件为真时不予享受（失信、欠税等）")
    article: str = Field(description="条号，如 第三条")
    quote: str = Field(description="逐字摘自原文")


class DraftRule(BaseModel):
    """What the model is asked for: small enough for the embedded model's 4k context."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode
    conditions: list[DraftCondition] = Field(min_length=1, max_length=12)
    amount: float | None = Field(default=None, description="固定金额（元）")
    rate: float | None = Field(default=None, description="按比例时的比例，如 0.1")
    rate_of: str | None = Field(default=None, description="比例所乘的企业字段")
    cap: float | None = Field(default=None, description="封顶金额（元）")
    benefit_article: str
    benefit_quote: str


def to_rule(
    draft: DraftRule, *, rule_id: str, document: str, valid_from: str, dictionary: Dictionary
) -> PolicyRule:
    """The full rule from the model's flat draft (raises ValidationError naming what does not fit)."""

    def condition(i: int, c: DraftCondition) -> dict[str, Any]:
        leaf = {"field": c.field, "op": c.op, "value": c.value, "of": c.of}
        return {"id": f"c{i}", "label": c.label, **{k: v for k, v in leaf.items() if v is not None},
                "clause": {"article": c.article, "quote": c.quote}}  # fmt: skip

    tier = {"amount": draft.amount} if draft.amount is not None else {"rate": draft.rate, "of": draft.rate_of}
    return parse_rule({
        "id": rule_id, "version": 1, "document": document, "mode": draft.mode, "status": "draft",
        "valid_from": valid_from,
        "conditions": [condition(i, c) for i, c in enumerate(draft.conditions) if not c.exclusion],
        "exclusions": [condition(i, c) for i, c in enumerate(draft.conditions) if c.exclusion],
        "benefit": {"tiers": [tier], "cap": draft.cap,
                    "clause": {"article": draft.benefit_article, "quote": draft.benefit_quote}},
    }, dictionary)  # fmt: skip


def draft_prompt(document: str, dictionary: Dictionary) -> str:
    """The document and the enterprise fields the rule may use (name, label, type, unit, meaning)."""
    fields = "；".join(f"{f.name}（{f.describe()}，{f.type}）" for f in dictionary.fields)
    return f"企业字段：{fields}\n\n政策文件：\n{document}"


@dataclass
class Draft:
    """A drafted rule (None when the model gave no valid one) and what a reviewer must look at."""

    rule: PolicyRule | None
    flagged_quotes: list[str] = field(default_factory=list)
    error: str | None = None
    raw: tuple[str, ...] = ()

    @property
    def quotes(self) -> int:
        """How many quotes the draft has."""
        return len(list(_quotes(self.rule))) if self.rule else 0


def normal_text(text: str) -> str:
    """``text`` without whitespace (quotes are compared this way)."""
    return re.sub(r"\s+", "", text)


def _quotes(rule: PolicyRule | None) -> Iterator[tuple[str, str]]:
    if rule is None:
        return
    for c in [*rule.conditions, *rule.exclusions]:
        if c.clause is not None:
            yield str(c.id), c.clause.quote
    yield "benefit", rule.benefit.clause.quote


def check_quotes(rule: PolicyRule, document: str) -> list[str]:
    """The quotes not found word for word in the document (whitespace ignored), as ``id: quote``."""
    text = normal_text(document)
    return [f"{cid}: {quote}" for cid, quote in _quotes(rule) if normal_text(quote) not in text]


async def draft_rule(
    llm: LLMClient,
    document: str,
    dictionary: Dictionary,
    *,
    rule_id: str = "drafted-policy",
    title: str = "",
    valid_from: str = "2024-01-01",
) -> Draft:
    """Ask the model for the rule of ``document``; validate it and flag the quotes it invented."""
    try:
        result = await llm.structured(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": draft_prompt(document, dictionary)},
            ],
            DraftRule,
            max_tokens=900,
        )
    except LLMOutputError as exc:  # invalid twice: nothing to review, say why
        return Draft(None, error=str(exc), raw=(exc.raw,) if exc.raw else ())
    try:
        rule = to_rule(result.value, rule_id=rule_id, document=title or document.splitlines()[0].lstrip("# "),
                       valid_from=valid_from, dictionary=dictionary)  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Draft(
            None, error=f"the draft does not fit the rule schema: {where}: {first['msg']}", raw=result.raw
        )
    return Draft(rule, check_quotes(rule, document), raw=result.raw)


def leaves(conditions: list[Condition]) -> set[tuple[str, str, str]]:
    """Every leaf as (field, op, value), groups flattened: what two rule sets are compared on."""
    out: set[tuple[str, str, str]] = set()
    for c in conditions:
        if c.field is not None:
            out.add((c.field, str(c.op), repr(c.value)))
        for child in [*(c.all or []), *(c.any or []), *([c.not_] if c.not_ else [])]:
            out |= leaves([child])
    return out


def agreement(drafted: PolicyRule | None, written: PolicyRule) -> dict[str, Any]:
    """How many of the hand-written leaves the draft has, and how many it adds that are not there."""
    truth = leaves(written.conditions) | leaves(written.exclusions)
    got = leaves(drafted.conditions) | leaves(drafted.exclusions) if drafted else set()
    return {
        "written": len(truth),
        "drafted": len(got),
        "correct": len(truth & got),
        "extra": len(got - truth),
    }
