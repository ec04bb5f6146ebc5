"""Per-item scores and the run summary: every headline number with its bootstrap interval.

Each finished item gets flat per-item scores (``item_scores``), so two runs can be compared item
by item; the summary aggregates them per suite: mean, 95% interval, item count, NaN count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sklearn.metrics import f1_score

from eval.bench.stats import percentile
from eval.harness.judge import METRICS as JUDGE_METRICS
from eval.metrics.answers import citation_hit, is_refusal
from eval.metrics.facts import key_fact_recall, unsupported_figures
from eval.metrics.intervals import bootstrap_mean
from eval.metrics.text import bleu, chrf, rouge_l
from eval.retrieval import matches


def _gold(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(g["title"]), str(g["article"])) for g in data.get("gold", [])]


def _qa_scores(data: dict[str, Any], out: dict[str, Any], judge: dict[str, Any] | None) -> dict[str, float]:
    answerable = bool(data.get("answerable", True))
    refused = is_refusal(out["answer"])
    scores: dict[str, float] = {"refusal_correct": float(refused != answerable)}
    if answerable:
        gold = _gold(data)
        cited = [(c["title"], c["article"]) for c in out["citations"]]
        scores["citation_accuracy"] = float(citation_hit(cited, gold))
        ranks = [
            i
            for i, c in enumerate(out["contexts"], 1)
            if matches({"title": c["title"], "article": c["article"]}, gold)
        ]
        scores["retrieval_recall"] = float(bool(ranks))
        scores["retrieval_mrr"] = 1.0 / ranks[0] if ranks else 0.0
        scores["false_refusal"] = float(refused)
        if cited:
            scores["citation_precision"] = sum(
                matches({"title": t, "article": a}, gold) for t, a in cited
            ) / len(cited)
        if "key_facts" in data:  # a refusal states none of them
            recall = 0.0 if refused else key_fact_recall(out["answer"], data["key_facts"])
            scores["key_fact_recall"], scores["complete"] = recall, float(recall == 1.0)
        if data.get("reference"):
            scores["bleu"] = bleu(out["answer"], data["reference"])
            scores["rouge_l"] = rouge_l(out["answer"], data["reference"])
            scores["chrf"] = chrf(out["answer"], data["reference"])
    else:
        scores["invented_answer"] = float(not refused)
    if not refused:
        cited_keys = {(c["title"], c["article"]) for c in out["citations"]}
        cited_texts = [
            c.get("text", "") for c in out.get("contexts", []) if (c["title"], c["article"]) in cited_keys
        ]
        extra = " ".join([data["question"], out.get("hotline", ""), *out.get("validity", [])])
        scores["wrong_facts"] = float(bool(unsupported_figures(out["answer"], cited_texts, extra)))
    for name in JUDGE_METRICS:
        if judge and name in judge:
            scores[name] = float(judge[name])
    return scores


def item_scores(row: dict[str, Any]) -> dict[str, float]:
    """Flat scores of one finished item (empty for an item that failed)."""
    out, data = row.get("output"), row["input"]
    if row.get("error") or out is None:
        return {}
    if row["task"] == "qa":
        return _qa_scores(data, out, row.get("judge"))
    if row["task"] == "dispatch":
        scores = {
            "department_accuracy": float(out["departments"][:1] == [data["department"]]),
            "department_top3": float(data["department"] in out["departments"][:3]),
        }
        for label in ("category", "urgency"):
            if data.get(label):
                scores[f"{label}_exact"] = float(out.get(label) == data[label])
        return scores
    if row["task"] == "chat":
        return {"passed": float(out["passed"])}
    if row["task"] == "subsidy":
        return _subsidy_scores(data, out)
    return {}


def _subsidy_scores(data: dict[str, Any], out: dict[str, Any]) -> dict[str, float]:
    scores = {"decision_accuracy": float(out["decision"] == data["decision"])}
    if data["decision"] == "missing_data" and "missing" in data:
        scores["missing_fields_exact"] = float(sorted(out["missing"]) == sorted(data["missing"]))
    if data["decision"] == "eligible" and data.get("amount") is not None and out["decision"] == "eligible":
        scores["amount_abs_error"] = abs(float(out["amount"] or 0.0) - float(data["amount"]))
    return scores


def _subsidy_extras(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Precision, recall and F1 of ``eligible`` (a wrong push costs money; a missed one, a benefit)."""
    pairs = [(r["input"]["decision"], r["output"]["decision"]) for r in rows if r.get("output")]
    tp = sum(1 for t, p in pairs if t == p == "eligible")
    predicted = sum(1 for _, p in pairs if p == "eligible")
    actual = sum(1 for t, _ in pairs if t == "eligible")
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    confusion = Counter(f"{t} → {p}" for t, p in pairs if t != p)
    return {
        "eligible_precision": round(precision, 4), "eligible_recall": round(recall, 4),
        "eligible_f1": round(f1, 4), "confusions": dict(confusion.most_common(10)),
    }  # fmt: skip


def _interval(values: list[float]) -> dict[str, Any]:
    clean = [v for v in values if not math.isnan(v)]
    nans = len(values) - len(clean)
    if not clean:
        return {"mean": None, "low": None, "high": None, "n": 0, "nan": nans}
    ci = bootstrap_mean(clean)
    return {
        "mean": round(ci.mean, 4),
        "low": round(ci.low, 4),
        "high": round(ci.high, 4),
        "n": len(clean),
        "nan": nans,
    }


def _latency(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    values = [float(r["latency_ms"]) for r in rows if not r.get("error")]
    if not values:
        return {}
    return {f"p{q}_ms": round(percentile(values, q), 1) for q in (50, 95, 99)}


def _dispatch_extras(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    pairs = [
        (r["input"]["department"], r["output"]["departments"][0])
        for r in rows
        if r.get("output") and r["output"]["departments"]
    ]
    if not pairs:
        return {}
    truth, predicted = zip(*pairs, strict=True)
    confusion = Counter(f"{t} → {p}" for t, p in pairs if t != p)
    return {
        "department_macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "confusions": dict(confusion.most_common(15)),
        "labels": sorted(set(truth) | set(predicted)),
        "matrix": [
            [sum(1 for t, p in pairs if t == a and p == b) for b in sorted(set(truth) | set(predicted))]
            for a in sorted(set(truth) | set(predicted))
        ],
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per suite: item and error counts, each metric's mean with interval and NaN count, latency."""
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_suite.setdefault(row["suite"], []).append(row)
    summary: dict[str, Any] = {}
    for suite, items in sorted(by_suite.items()):
        metrics: dict[str, list[float]] = {}
        for row in items:
            for name, value in item_scores(row).items():
                metrics.setdefault(name, []).append(value)
        entry: dict[str, Any] = {
            "task": items[0]["task"],
            "items": len(items),
            "errors": sum(1 for r in items if r.get("error")),
            "error_samples": [f"{r['id']}: {r['error']}" for r in items if r.get("error")][:5],
            "metrics": {name: _interval(values) for name, values in sorted(metrics.items())},
            "latency": _latency(items),
        }
        if entry["task"] == "dispatch":
            entry.update(_dispatch_extras(items))
        if entry["task"] == "subsidy":
            entry.update(_subsidy_extras(items))
        if entry["task"] == "qa":
            judged = [r["judge"]["seconds"] for r in items if r.get("judge")]
            entry["judge_seconds_per_item"] = (
                {m: round(sum(s.get(m, 0.0) for s in judged) / len(judged), 2) for m in JUDGE_METRICS}
                if judged
                else {}
            )
        summary[suite] = entry
    return summary
