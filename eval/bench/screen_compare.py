"""Learners for the emergency model compared under one protocol, on the development sets only.

``python -m eval.bench.screen_compare`` runs every candidate with the leave-one-development-file-out
folds of ``eval.bench.screen_training`` (the vectoriser and the classifier fitted on the training files
only) and prints one row per candidate. The frozen suites in ``eval/suites`` are never read here.

For each candidate, its held-out scores of all items are pooled and:

- ``model recall @ budget``: the threshold is the lowest at which at most ``FALSE_ALARM_BUDGET`` of the
  held-out ordinary messages the rules leave open would alarm (screen_training's criterion), and the
  recall is over every emergency (how well the model reads wording, rules aside); also at budgets of 1 and
  3 %, and at 2 % the emergencies it catches that the shipped setting misses (+) and the reverse (−);
- ``open recall``: of the emergencies the rules miss (all of them open), how many the model catches;
- ``detector recall / false alarms``: rules first, then the model where the rules leave a message open,
  over all development items, as ``agents.resident.emergency.detect`` combines them;
- baselines with their own threshold (LinearSVC's margin 0) are also scored alone (``alone``) as
  ``cityagent bench emergency`` runs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rjieba  # a dependency of the retrieval side; the detector itself uses no segmenter
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from agents.resident import emergency, textscore
from agents.resident.textscore import char_grams
from eval.bench.screen_training import FALSE_ALARM_BUDGET, emergency_data, threshold_for

Analyser = Callable[[str], list[str]]


def _words(text: str) -> list[str]:
    return [f"w:{w}" for w in rjieba.cut(text) if w.strip("，")]


def chars(low: int, high: int) -> Analyser:
    """Character n-grams of the normalised text (the shipped model's features)."""
    return lambda text: char_grams(text, low, high)


def chars_and_words(low: int, high: int) -> Analyser:
    """Character n-grams plus rjieba's words."""
    return lambda text: char_grams(text, low, high) + _words(text)


def chars_and_cues(low: int, high: int) -> Analyser:
    """Character n-grams plus one feature naming the rules' counter-cue (the text carries it after a tab)."""

    def analyse(text: str) -> list[str]:
        body, _, cue = text.partition("\t")
        return char_grams(body, low, high) + ([f"cue:{cue}"] if cue else [])

    return analyse


@dataclass(frozen=True)
class Candidate:
    """One learner: how texts are read, vectorised and classified."""

    name: str
    analyser: Analyser | None  # None: scikit-learn's own char analyser on the raw text (the baseline)
    learner: Callable[[], Any]
    sublinear: bool = True
    raw_text: bool = False
    cues: bool = False
    ngram: tuple[int, int] = (1, 3)


def _lr(c: float, weight: str | None = "balanced") -> Callable[[], Any]:
    return lambda: LogisticRegression(
        C=c, solver="liblinear", class_weight=weight, max_iter=1000, random_state=0
    )


def _svc(c: float, loss: str = "squared_hinge", weight: str | None = None) -> Callable[[], Any]:
    return lambda: LinearSVC(C=c, loss=loss, class_weight=weight, max_iter=20000, random_state=0)


def candidates() -> list[Candidate]:
    """The settings compared (the shipped one first, read from the shipped model's file)."""
    shipped = textscore.load("emergency")
    low, high, c_shipped = shipped.low, shipped.high, float(shipped.meta["C"])
    name = f"LR C={c_shipped:g} balanced, char {low}-{high}, sublinear (shipped)"
    out = [Candidate(name, chars(low, high), _lr(c_shipped), ngram=(low, high))]
    if (low, high, c_shipped) != (1, 3, 30.0):  # the setting shipped before the dev12 round, for reference
        out.append(Candidate("LR C=30 balanced, char 1-3", chars(1, 3), _lr(30.0)))
    for c in (3.0, 10.0, 100.0):
        out.append(Candidate(f"LR C={c:g} balanced, char 1-3", chars(1, 3), _lr(c)))
    for low, high in ((1, 2), (2, 3), (1, 4)):
        out.append(Candidate(f"LR C=30 balanced, char {low}-{high}", chars(low, high), _lr(30.0)))
    out.append(Candidate("LR C=30 unweighted, char 1-3", chars(1, 3), _lr(30.0, None)))
    out.append(Candidate("LR C=30 balanced, char 1-3, raw tf", chars(1, 3), _lr(30.0), sublinear=False))
    for c in (0.3, 1.0, 3.0, 10.0):
        out.append(Candidate(f"LinearSVC sq. hinge C={c:g}, char 1-3", chars(1, 3), _svc(c)))
    for c in (0.3, 1.0, 3.0):
        out.append(Candidate(f"LinearSVC hinge C={c:g}, char 1-3", chars(1, 3), _svc(c, "hinge")))
    out.append(
        Candidate("LinearSVC sq. hinge C=1 balanced, char 1-3", chars(1, 3), _svc(1.0, weight="balanced"))
    )
    out.append(Candidate("LinearSVC sq. hinge C=1, char 1-4", chars(1, 4), _svc(1.0), ngram=(1, 4)))
    out.append(Candidate("LR C=30 balanced, char 1-3 + rjieba words", chars_and_words(1, 3), _lr(30.0)))
    out.append(
        Candidate("LinearSVC sq. hinge C=1, char 1-3 + rjieba words", chars_and_words(1, 3), _svc(1.0))
    )
    out.append(
        Candidate(
            "LR C=30 balanced, char 1-3 + counter-cue features", chars_and_cues(1, 3), _lr(30.0), cues=True
        )
    )
    out.append(
        Candidate("baseline: sklearn char 1-3 on raw text, LinearSVC C=1", None, _svc(1.0), raw_text=True)
    )
    return out


def _vectoriser(candidate: Candidate) -> TfidfVectorizer:
    if candidate.analyser is None:
        return TfidfVectorizer(analyzer="char", ngram_range=candidate.ngram, sublinear_tf=candidate.sublinear)
    return TfidfVectorizer(analyzer=candidate.analyser, sublinear_tf=candidate.sublinear, norm="l2")


def held_out_scores(
    candidate: Candidate, texts: list[str], y: np.ndarray, folds: Sequence[Any]
) -> np.ndarray:
    """Each item's score (decision function) from the model fitted without its file."""
    scores = np.zeros(len(texts))
    for train_rows, test_rows in folds:
        vec = _vectoriser(candidate)
        x_train: csr_matrix = vec.fit_transform([texts[i] for i in train_rows])
        clf = candidate.learner().fit(x_train, y[train_rows])
        scores[test_rows] = clf.decision_function(vec.transform([texts[i] for i in test_rows]))
    return scores


BUDGETS = (0.01, 0.02, 0.03)


def evaluate(candidate: Candidate) -> tuple[dict[str, Any], np.ndarray]:
    """The candidate's held-out figures (see the module's docstring) and which emergencies it catches."""
    data = emergency_data()
    raw = [item["text"] for _, item in data.rows]
    texts = raw if candidate.raw_text else data.texts
    if candidate.cues:
        texts = [f"{t}\t{emergency.counter_cue(r) or ''}" for t, r in zip(texts, raw, strict=True)]
    scores = held_out_scores(candidate, texts, data.y, data.folds)
    y, is_open = data.y, data.is_open
    ruled = np.array([emergency.detect_by_rules(r)[0] is not None for r in raw])
    open_neg = scores[(y == 0) & is_open]
    t = threshold_for(1 / (1 + np.exp(-open_neg)), FALSE_ALARM_BUDGET)
    cut = float(np.log(t / (1 - t)))  # the probability threshold as a margin
    row = _figures(scores >= cut, y, is_open, ruled)
    row.update(candidate=candidate.name, threshold_margin=round(cut, 3))
    for budget in BUDGETS:
        t_b = threshold_for(1 / (1 + np.exp(-open_neg)), budget)
        row[f"model_recall_at_{budget:g}"] = round(
            float(np.mean(scores[y == 1] >= np.log(t_b / (1 - t_b)))), 4
        )
    if candidate.raw_text:
        alone = scores > 0
        row["alone_recall"] = round(float(np.mean(alone[y == 1])), 4)
        row["alone_false_alarms"] = round(float(np.mean(alone[y == 0])), 4)
        with_rules = _figures(scores > 0, y, is_open, ruled)
        row["margin0_detector_recall"] = with_rules["detector_recall"]
        row["margin0_detector_false_alarms"] = with_rules["detector_false_alarms"]
    return row, (scores >= cut)[y == 1]


def _figures(alarm: np.ndarray, y: np.ndarray, is_open: np.ndarray, ruled: np.ndarray) -> dict[str, Any]:
    detector = ruled | (is_open & alarm)
    missed_by_rules = (y == 1) & ~ruled
    return {
        "model_recall": round(float(np.mean(alarm[y == 1])), 4),
        "model_false_alarms_open": round(float(np.mean(alarm[(y == 0) & is_open])), 4),
        "open_recall": f"{int(np.sum(detector & missed_by_rules))}/{int(np.sum(missed_by_rules))}",
        "detector_recall": round(float(np.mean(detector[y == 1])), 4),
        "detector_false_alarms": round(float(np.mean(detector[y == 0])), 4),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| candidate | model recall @ 1 / 2 / 3 % | vs shipped @ 2 % | open recall | detector recall, FA |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        at = " / ".join(f"{r[f'model_recall_at_{b:g}']:.3f}" for b in BUDGETS)
        lines.append(
            f"| {r['candidate']} | {at} | {r.get('vs_shipped', '')} | {r['open_recall']} | "
            f"{r['detector_recall']:.3f}, {r['detector_false_alarms'] * 100:.1f} % |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print every candidate's row (JSON lines, then the Markdown table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the candidates whose name contains this")
    args = parser.parse_args(argv)
    rows = []
    shipped: np.ndarray | None = None
    for candidate in candidates():
        if args.only and args.only not in candidate.name:
            continue
        row, caught = evaluate(candidate)
        if shipped is None and "(shipped)" in candidate.name:
            shipped = caught
        if shipped is not None:
            row["vs_shipped"] = f"+{int(np.sum(caught & ~shipped))} −{int(np.sum(shipped & ~caught))}"
        rows.append(row)
        sys.stdout.write(json.dumps(rows[-1], ensure_ascii=False) + "\n")
        sys.stdout.flush()
    data = emergency_data()
    cued = sum(
        1 for (_, item), is_open in zip(data.rows, data.is_open, strict=True)
        if item["label"] == "emergency" and not is_open and emergency.detect_by_rules(item["text"])[0] is None
    )  # fmt: skip
    sys.stdout.write(markdown(rows) + "\n")
    sys.stdout.write(
        f"emergencies the rules miss that carry a counter-cue (a model overruling one could catch): {cued}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
