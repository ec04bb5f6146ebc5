"""What a policy officer checks before approving a rule: each condition beside the clause it cites.

For every condition, exclusion and the benefit: the condition in words, the article and quote the
rule cites, whether that quote is found word for word in the policy document (whitespace
ignored), and the article's full text from the document, so the two can be read side by side.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from knowledge.documents import document_validity
from tools.enterprises.dictionary import Dictionary
from tools.subsidies.draft import normal_text
from tools.subsidies.matcher import expected_words
from tools.subsidies.rules import Condition, PolicyRule, Tier

_ARTICLE = re.compile(r"^\s*(第[一二三四五六七八九十百零〇\d]+条)", re.MULTILINE)


def validity_problems(rule: PolicyRule, document: str | None) -> list[str]:
    """Where the rule's validity window disagrees with the one its document states (empty: they agree)."""
    if document is None:
        return ["找不到政策文件原文，无法核对规则的有效期。"]
    start, end = document_validity(document)
    problems = []
    if start is not None and rule.valid_from != start:
        problems.append(f"规则自 {rule.valid_from} 起生效，文件写明自 {start} 起施行。")
    if end is not None and rule.valid_to != end:
        have = f"至 {rule.valid_to} 止" if rule.valid_to else "未写截止日期"
        problems.append(f"规则{have}，文件写明有效期至 {end}。")
    if end is None and rule.valid_to is not None:
        problems.append(f"规则至 {rule.valid_to} 止，文件中没有写明有效期。")
    return problems


def articles(document: str) -> dict[str, str]:
    """The document's articles by label (``第三条`` → its text up to the next article)."""
    marks = list(_ARTICLE.finditer(document))
    out: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(document)
        out.setdefault(mark.group(1), document[mark.start() : end].strip())
    return out


def review(
    rule: PolicyRule, document: str | None, as_of: date, dictionary: Dictionary
) -> list[dict[str, Any]]:
    """One row per condition, exclusion and the benefit, with its clause, its fields and the quote check.

    Each row's ``fields`` says what the condition reads: the field's name, Chinese label, type, unit
    and meaning from the city's enterprise data dictionary.

    ``document`` None means the policy document is not in the knowledge base: no quote can be
    verified, and every row says so (``quote_found`` None).
    """
    text = normal_text(document) if document is not None else None
    by_article = articles(document) if document is not None else {}

    def described(names: list[str]) -> list[dict[str, Any]]:
        return [
            {"name": n, "label": f.label, "type": f.type, "unit": f.unit, "meaning": f.meaning,
             "values": list(f.values) if f.values else None}
            for n in dict.fromkeys(names) if n in dictionary for f in [dictionary.field(n)]
        ]  # fmt: skip

    def row(
        kind: str, cid: str, label: str, words: str, *, article: str, quote: str, fields: list[str]
    ) -> dict[str, Any]:
        return {
            "kind": kind, "id": cid, "label": label, "condition": words, "article": article,
            "quote": quote, "quote_found": None if text is None else normal_text(quote) in text,
            "article_text": by_article.get(article), "fields": described(fields),
        }  # fmt: skip

    def conditions(kind: str, items: list[Condition]) -> list[dict[str, Any]]:
        return [
            row(
                kind,
                str(c.id),
                str(c.label),
                expected_words(c, as_of, dictionary),
                article=c.clause.article,
                quote=c.clause.quote,
                fields=c.fields(),
            )
            for c in items
            if c.clause is not None
        ]

    benefit = rule.benefit
    tiers = "；".join(
        (f"{expected_words(t.when, as_of, dictionary)} 时 " if t.when else "") + _tier_words(t, dictionary)
        for t in benefit.tiers
    )
    cap = f"，上限 {benefit.cap:,.0f} 元" if benefit.cap is not None else ""
    return [
        *conditions("condition", rule.conditions),
        *conditions("exclusion", rule.exclusions),
        row(
            "benefit",
            "benefit",
            "奖补标准",
            tiers + cap,
            article=benefit.clause.article,
            quote=benefit.clause.quote,
            fields=[f for t in benefit.tiers for f in [*(t.when.fields() if t.when else []), *t.fields()]],
        ),
    ]


def _tier_words(t: Tier, dictionary: Dictionary) -> str:
    """One tier in the officer's words: 1,500 元 × 新增就业人数, or 上年实缴失业保险费 × 0.6."""
    if t.amount is not None and t.per is not None:
        return f"每{dictionary.field(t.per).unit or '个'} {t.amount:,.0f} 元 × {dictionary.label(t.per)}"
    if t.amount is not None:
        return f"{t.amount:,.0f} 元"
    return f"{dictionary.label(t.of or '')} × {t.rate}"
