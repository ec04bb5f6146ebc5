"""The answerability decision, measured: the retrieval gate, the model's judge, and both together.

``cityagent bench judge`` reads the qa items of suites (the answerable and the unanswerable ones), retrieves
for each question as the resident assistant does, and records three readings of the same passages: the
gate's probability and zone (``knowledge.gate`` as the settings load it), and the model's P(是) from the
judge's prompt (``agents.resident.nodes.judge_probability``, one token's log-probabilities). The rows are
written to a JSONL file, so the scoring runs again without the model (``--rows``).

Scored on each half (``eval.harness.suites.split_of``), with 95 % Wilson intervals:

- AUC of the gate's probability and of the judge's (how well each separates answerable from not);
- false refusals (answerable refused) and invented answers (unanswerable answered) of four decisions:
  no model (the gate alone: its refuse zone refuses), the judge alone at ``judge_min``, the gate and the
  judge as the service runs them (the judge decides in the gate's ``ask`` zone), and the same with
  ``judge_min`` re-chosen on the dev half (the highest that refuses at most ``max_false_refusals`` of its
  answerable questions), reported on the test half;
- a logistic regression over the gate's features and the judge's logit, its regularisation chosen by
  stratified cross-validation on the dev half and its cut-off read off the out-of-fold probabilities at
  the same false-refusal budget; fitted on the dev half, reported on the test half.

Follow-up items (with ``history``) need the model's rewrite first and are left out; the report says how
many. Sampling (``--balanced``): every unanswerable item of a half and as many answerable ones, drawn by
``seed``, so a model run fits in minutes.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from agents.resident.nodes import ResidentNodes, as_clause, judge_probability
from agents.resident.prompts import JUDGE_CLAUSES
from eval.bench.stats import wilson
from eval.harness.suites import Item, split_of
from knowledge.gate import FEATURES
from tools.llm import LLMError

C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
DECISIONS = ("no model", "judge alone", "gate + judge", "gate + judge, judge_min from dev", "combined")


@dataclass(frozen=True)
class JudgeRow:
    """One question: what was retrieved, what the gate and the judge made of it."""

    key: str
    split: str
    answerable: bool
    question: str
    gate_p: float | None
    zone: str
    features: dict[str, float]
    judge_p: float | None  # None: no model, or it failed (``error`` says why)
    judge_ms: float
    clauses: list[str]  # the clauses the judge read, "title label"
    gold_read: bool  # a gold clause among them
    error: str = ""


def select(items: Sequence[Item], *, balanced: bool, seed: int, limit: int | None) -> tuple[list[Item], int]:
    """The qa items to read (and how many follow-ups were left out): per half, balanced by ``seed``."""
    plain = [i for i in items if i.task == "qa" and not i.data.get("history")]
    follow_ups = sum(1 for i in items if i.task == "qa" and i.data.get("history"))
    if not balanced:
        return plain[:limit] if limit else plain, follow_ups
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    chosen: list[Item] = []
    for half in ("dev", "test"):
        mine = [i for i in plain if split_of(i.id) == half]
        no = [i for i in mine if not i.data.get("answerable", True)]
        yes = [i for i in mine if i.data.get("answerable", True)]
        if limit:
            no = rng.sample(no, min(len(no), limit // 2))
        chosen += no + rng.sample(yes, min(len(yes), max(len(no), 1)))
    return chosen, follow_ups


def _gold(item: Item) -> set[tuple[str, str]]:
    return {(str(g.get("title", "")), str(g.get("article", ""))) for g in item.data.get("gold") or []}


async def read(
    nodes: ResidentNodes,
    items: Sequence[Item],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[JudgeRow]:
    """Retrieve, read the gate and ask the judge for each item, one at a time (the model is one queue)."""
    deps = nodes.deps
    retriever, llm = deps.retriever(), deps.llm()
    rows: list[JudgeRow] = []
    for n, item in enumerate(items, 1):
        question = str(item.data["question"])
        hits = await retriever.search(question, k=deps.k)
        gate = nodes.gate_reading(question, hits)
        clauses = [as_clause(h) for h in hits]
        judge_p, error, started = None, "", time.perf_counter()
        if clauses and llm.available:
            try:
                judge_p = await judge_probability(llm, question, clauses)
            except LLMError as exc:
                error = f"{type(exc).__name__}: {exc}"
        read_keys = {(c["title"], c["label"]) for c in clauses[:JUDGE_CLAUSES]}
        rows.append(
            JudgeRow(
                key=item.key,
                split=split_of(item.id),
                answerable=bool(item.data.get("answerable", True)),
                question=question,
                gate_p=gate["p"],
                zone=gate["zone"],
                features={k: float(v) for k, v in gate["features"].items()},
                judge_p=judge_p,
                judge_ms=round((time.perf_counter() - started) * 1000.0, 1),
                clauses=[f"{c['title']} {c['label']}" for c in clauses[:JUDGE_CLAUSES]],
                gold_read=bool(read_keys & _gold(item)),
                error=error,
            )
        )
        if progress:
            progress(n, len(items), item.key)
    return rows


def write_rows(rows: Sequence[JudgeRow], path: Path) -> None:
    """One JSON object a line (``load_rows`` reads them back)."""
    path.write_text("".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def load_rows(path: Path) -> list[JudgeRow]:
    """Rows written by ``write_rows``; a line that does not fit is an error naming the line."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(JudgeRow(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a judge row ({exc})") from exc
    return rows


# -- scoring --------------------------------------------------------------------------------------
def _rates(answered: Sequence[bool], rows: Sequence[JudgeRow]) -> dict[str, Any]:
    yes = [a for a, r in zip(answered, rows, strict=True) if r.answerable]
    no = [a for a, r in zip(answered, rows, strict=True) if not r.answerable]
    refused, invented = sum(not a for a in yes), sum(no)
    return {
        "false_refusals": round(refused / len(yes), 3) if yes else None,
        "false_refusals_ci": wilson(refused, len(yes)) if yes else None,
        "invented": round(invented / len(no), 3) if no else None,
        "invented_ci": wilson(invented, len(no)) if no else None,
        "answerable": len(yes),
        "unanswerable": len(no),
    }


def _auc(scores: Sequence[float | None], rows: Sequence[JudgeRow]) -> float | None:
    pairs = [(s, r.answerable) for s, r in zip(scores, rows, strict=True) if s is not None]
    labels = {a for _, a in pairs}
    if len(labels) < 2:
        return None
    return round(float(roc_auc_score([a for _, a in pairs], [s for s, _ in pairs])), 3)


def _shipped(rows: Sequence[JudgeRow], judge_min: float) -> list[bool]:
    """The service's decision: the gate's answer and refuse zones stand, the judge decides in between."""
    out = []
    for r in rows:
        if r.zone == "refuse":
            out.append(False)
        elif r.zone == "answer" or r.judge_p is None:
            out.append(True)
        else:
            out.append(r.judge_p >= judge_min)
    return out


def cut_off(scores: Sequence[float], answerable: Sequence[bool], budget: float) -> float:
    """The highest cut-off that refuses at most ``budget`` of the answerable (score below it refuses)."""
    yes = sorted(s for s, a in zip(scores, answerable, strict=True) if a)
    if not yes:
        return 0.0
    allowed = math.floor(budget * len(yes) + 1e-9)  # answerable ones that may fall below
    return yes[allowed] if allowed < len(yes) else yes[-1] + 1e-9


def choose_judge_min(rows: Sequence[JudgeRow], budget: float) -> float:
    """The highest ``judge_min`` at which the shipped decision refuses at most ``budget`` answerable."""
    candidates = sorted({r.judge_p for r in rows if r.judge_p is not None} | {0.0})
    best = 0.0
    for t in candidates:
        rates = _rates(_shipped(rows, t), rows)
        if rates["false_refusals"] is not None and rates["false_refusals"] <= budget + 1e-9:
            best = t
    return best


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _matrix(rows: Sequence[JudgeRow]) -> np.ndarray:
    return np.array([[r.features.get(k, 0.0) for k in FEATURES] + [_logit(r.judge_p or 0.5)] for r in rows])


@dataclass(frozen=True)
class Combined:
    """A logistic regression over the gate's features and the judge's logit, with its cut-off."""

    c: float
    cut: float
    model: LogisticRegression
    mean: np.ndarray
    scale: np.ndarray
    cv_log_loss: float

    def probabilities(self, rows: Sequence[JudgeRow]) -> list[float]:
        """P(answerable) of each row."""
        x = (_matrix(rows) - self.mean) / self.scale
        return [float(p) for p in self.model.predict_proba(x)[:, 1]]


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit((x - mean) / scale, y)
    return model, mean, scale


def fit_combined(rows: Sequence[JudgeRow], budget: float, *, folds: int = 5, seed: int = 0) -> Combined:
    """C by stratified k-fold log loss; the cut-off from the out-of-fold probabilities at ``budget``."""
    x, y = _matrix(rows), np.array([int(r.answerable) for r in rows])
    k = min(folds, int(y.sum()), int(len(y) - y.sum()))
    if k < 2:
        raise ValueError("the combined decision needs at least two answerable and two unanswerable rows")
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        oof = np.zeros(len(y))
        for train, held in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
            model, mean, scale = _fit(x[train], y[train], c)
            oof[held] = model.predict_proba((x[held] - mean) / scale)[:, 1]
        loss = float(log_loss(y, oof, labels=[0, 1]))
        if best is None or loss < best[1] - 1e-9:
            best = (c, loss, oof)
    assert best is not None
    c, loss, oof = best
    model, mean, scale = _fit(x, y, c)
    cut = cut_off([float(p) for p in oof], [bool(v) for v in y], budget)
    return Combined(c=c, cut=cut, model=model, mean=mean, scale=scale, cv_log_loss=round(loss, 4))


def score(rows: Sequence[JudgeRow], judge_min: float, budget: float = 0.05) -> dict[str, Any]:
    """Every figure of the module docstring, per half (``combined`` and the re-chosen cut-off: test only)."""
    halves = {h: [r for r in rows if r.split == h] for h in ("dev", "test")}
    judged = [r for r in rows if r.judge_p is not None]
    result: dict[str, Any] = {
        "judge_min": judge_min,
        "budget": budget,
        "rows": len(rows),
        "judged": len(judged),
        "judge_errors": sum(1 for r in rows if r.error),
        "judge_ms_p50": float(np.median([r.judge_ms for r in judged])) if judged else None,
        "halves": {},
    }
    dev = [r for r in halves["dev"] if r.judge_p is not None]
    chosen = choose_judge_min(dev, budget) if dev else None
    combined: Combined | None = None
    if dev:
        try:
            combined = fit_combined(dev, budget)
        except ValueError as exc:
            result["combined_error"] = str(exc)
    result["judge_min_from_dev"] = chosen
    if combined is not None:
        result["combined"] = {
            "C": combined.c,
            "cut": round(combined.cut, 4),
            "cv_log_loss": combined.cv_log_loss,
        }
    for half, mine in halves.items():
        if not mine:
            continue
        entry: dict[str, Any] = {
            "auc_gate": _auc([r.gate_p for r in mine], mine),
            "auc_judge": _auc([r.judge_p for r in mine], mine),
            "gold_read": round(
                sum(r.gold_read for r in mine if r.answerable) / max(1, sum(r.answerable for r in mine)), 3
            ),
            "decisions": {
                "no model": _rates([r.zone != "refuse" for r in mine], mine),
            },
        }
        if any(r.judge_p is not None for r in mine):
            entry["decisions"]["judge alone"] = _rates(
                [r.judge_p is None or r.judge_p >= judge_min for r in mine], mine
            )
            entry["decisions"]["gate + judge"] = _rates(_shipped(mine, judge_min), mine)
            if half == "test" and chosen is not None:
                entry["decisions"]["gate + judge, judge_min from dev"] = _rates(_shipped(mine, chosen), mine)
            if half == "test" and combined is not None:
                probs = combined.probabilities(mine)
                entry["auc_combined"] = _auc(probs, mine)
                entry["decisions"]["combined"] = _rates([p >= combined.cut for p in probs], mine)
        result["halves"][half] = entry
    return result


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table, one line a decision and half."""
    lines = [
        f"rows {result['rows']}, judged {result['judged']} (errors {result['judge_errors']}), "
        f"judge p50 {result['judge_ms_p50']} ms; judge_min {result['judge_min']}, "
        f"re-chosen on dev {result.get('judge_min_from_dev')}; combined {result.get('combined')}",
        "",
        "| half | decision | false refusals | invented answers |",
        "| --- | --- | --- | --- |",
    ]
    for half, entry in result["halves"].items():
        for name in DECISIONS:
            rates = entry["decisions"].get(name)
            if rates is None:
                continue
            fr, inv = rates["false_refusals"], rates["invented"]
            lines.append(
                f"| {half} ({rates['answerable']}/{rates['unanswerable']}) | {name} | "
                f"{fr} {rates['false_refusals_ci']} | {inv} {rates['invented_ci']} |"
            )
        aucs = {k: v for k, v in entry.items() if k.startswith("auc_")}
        lines.append(f"| {half} | AUC | {aucs} | gold clause read: {entry['gold_read']} |")
    return "\n".join(lines)
