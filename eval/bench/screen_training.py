"""Training the character n-gram models of the emergency and abuse checks, on the development sets only.

``python -m eval.bench.screen_training`` chooses the settings by cross-validation, fits on all the
development data and writes ``agents/resident/data/{emergency,abuse}_model.json``; ``--check`` fits
again and fails if the shipped files differ. The frozen suites in ``eval/suites`` are never read here.

How the settings are chosen (the rules stay first; the model only speaks where the rules found no
counter-cue, see ``agents.resident.emergency``):

- **Emergency**: leave one development file out (the six files were written at different times, each
  before the rules were widened on it, so a held-out file is the nearest thing to new wording). For each
  n-gram range and C, the held-out probabilities of all files are pooled; the threshold is the lowest
  one at which at most ``FALSE_ALARM_BUDGET`` of the held-out ordinary messages *the rules leave open*
  (no emergency found, no counter-cue) would alarm. Among the settings that catch the most held-out
  emergencies the rules leave open (what the model adds to the detector), the one with the highest
  held-out recall over all emergencies at its threshold wins; settings within ``RECALL_TOLERANCE`` of it
  count as equal, and then the smallest vocabulary and the strongest regularisation win.
- **Abuse**: the same with stratified 5-fold cross-validation (two small files), budget
  ``ABUSE_FALSE_POSITIVE_BUDGET``: a family word taken for an insult costs a resident their answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from agents.resident import abuse, emergency
from agents.resident.textscore import DATA, CharGramModel, char_grams

DEV = Path(__file__).resolve().parents[2] / "tests" / "agents" / "data"
NGRAM_RANGES: tuple[tuple[int, int], ...] = ((1, 2), (1, 3), (2, 3), (1, 4))
CS: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
# 1 %: on the thirteen files, leave-one-file-out, the detector still catches every emergency the rules
# leave open at 1 % (as at 2 %), with half the false alarms (4 of 1217 ordinary messages, against 8)
FALSE_ALARM_BUDGET = 0.01
ABUSE_FALSE_POSITIVE_BUDGET = 0.0
RECALL_TOLERANCE = 0.005  # held-out recall differences below this are noise: the simpler setting wins
SERVICES = ("119", "120", "110")
DIGITS = 6


def load_dev(pattern: str, folder: Path = DEV) -> list[tuple[str, dict[str, Any]]]:
    """(file name, item) of every development file matching ``pattern``; a bad line names itself."""
    out = []
    paths = sorted(folder.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"{folder}: no {pattern}")
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                str(item["text"]), str(item["label"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
            out.append((path.name, item))
    return out


def _vectoriser(low: int, high: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=lambda text: char_grams(text, low, high), sublinear_tf=True, norm="l2", smooth_idf=True
    )


def _logit(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=1000, random_state=0)


def fit(
    texts: Sequence[str],
    targets: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    low: int,
    high: int,
    c: float,
    threshold: float,
    meta: dict[str, Any],
) -> CharGramModel:
    """A model whose heads are fitted on ``targets[head] = (row mask, labels)`` over shared TF-IDF."""
    vec = _vectoriser(low, high)
    x = vec.fit_transform(texts)
    coefs, bias = [], []
    for rows, labels in targets.values():
        clf = _logit(c).fit(x[rows], labels)
        coefs.append(clf.coef_[0])
        bias.append(round(float(clf.intercept_[0]), DIGITS))
    idf = vec.idf_
    weights = {
        gram: [round(float(idf[j]), DIGITS), *(round(float(w[j]), DIGITS) for w in coefs)]
        for gram, j in sorted(vec.vocabulary_.items())
    }
    return CharGramModel(tuple(targets), low, high, weights, tuple(bias), round(threshold, DIGITS), meta)


def held_out(
    texts: Sequence[str], y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], low: int, high: int
) -> dict[float, np.ndarray]:
    """Each C's held-out probabilities of every item (the vectoriser fitted on each training part only)."""
    held = {c: np.zeros(len(texts)) for c in CS}
    for train_rows, test_rows in folds:
        vec = _vectoriser(low, high)
        x_train = vec.fit_transform([texts[i] for i in train_rows])
        x_test = vec.transform([texts[i] for i in test_rows])
        for c in CS:
            held[c][test_rows] = _logit(c).fit(x_train, y[train_rows]).predict_proba(x_test)[:, 1]
    return held


def threshold_for(open_negatives: np.ndarray, budget: float) -> float:
    """The lowest threshold at which at most ``budget`` of these held-out scores reach it."""
    allowed = int(budget * len(open_negatives))
    ordered = np.sort(open_negatives)[::-1]
    above = ordered[allowed] if allowed < len(ordered) else 0.0
    return float(min(max(above + 1e-6, 0.05), 1 - 1e-6))


@dataclass
class Choice:
    """One setting's held-out figures."""

    low: int
    high: int
    c: float
    threshold: float
    recall: float
    false_alarms: float
    vocabulary: int
    open_recall: float = 0.0

    def row(self) -> dict[str, Any]:
        """The setting as printed."""
        return {
            "ngram_range": [self.low, self.high], "C": self.c, "threshold": round(self.threshold, 4),
            "held_out_recall": round(self.recall, 4), "held_out_false_alarms": round(self.false_alarms, 4),
            "held_out_open_recall": round(self.open_recall, 4), "vocabulary": self.vocabulary,
        }  # fmt: skip


def _search(
    texts: list[str],
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    is_open: np.ndarray,
    budget: float,
) -> tuple[Choice, list[dict[str, Any]]]:
    table = []
    for low, high in NGRAM_RANGES:
        vocab = len(_vectoriser(low, high).fit(texts).vocabulary_)
        for c, held in held_out(texts, y, folds, low, high).items():
            negatives = held[(y == 0) & is_open]
            t = threshold_for(negatives, budget)
            recall, alarms = float(np.mean(held[y == 1] >= t)), float(np.mean(negatives >= t))
            open_pos = held[(y == 1) & is_open]
            open_recall = float(np.mean(open_pos >= t)) if len(open_pos) else 1.0
            table.append(Choice(low, high, c, t, recall, alarms, vocab, open_recall))
    within = [ch for ch in table if ch.false_alarms <= budget] or table
    # first what the detector gains: the held-out emergencies the rules leave open that the model catches
    best_open = max(ch.open_recall for ch in within)
    within = [ch for ch in within if ch.open_recall >= best_open - 1e-9]
    top = max(ch.recall for ch in within)
    # the smallest model (then the strongest regularisation) within RECALL_TOLERANCE of the best
    near = [ch for ch in within if ch.recall >= top - RECALL_TOLERANCE]
    best = min(near, key=lambda ch: (ch.vocabulary, ch.c))
    return best, [ch.row() for ch in table]


def _leave_one_file_out(files: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    names = sorted(set(files))
    index = np.arange(len(files))
    arr = np.array(files)
    return [(index[arr != n], index[arr == n]) for n in names]


@dataclass
class Data:
    """A development set made ready: normalised texts, labels, the targets, what the model may judge."""

    rows: list[tuple[str, dict[str, Any]]]
    texts: list[str]
    y: np.ndarray
    targets: dict[str, tuple[np.ndarray, np.ndarray]]
    is_open: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    how: str
    budget: float


def emergency_data(folder: Path = DEV) -> Data:
    """The emergency development files; heads ``emergency`` (all items) and 119/120/110 (the emergencies)."""
    rows = load_dev("emergency_dev*.jsonl", folder)
    texts = [emergency.normalise(item["text"]) for _, item in rows]
    y = np.array([item["label"] == "emergency" for _, item in rows], dtype=int)
    is_open = np.array([emergency.model_may_speak(item["text"]) for _, item in rows])
    positives = y == 1
    targets = {"emergency": (np.ones(len(y), dtype=bool), y)}
    for number in SERVICES:
        labels = np.array([number in (item.get("services") or []) for _, item in rows], dtype=int)
        targets[number] = (positives, labels[positives])
    folds = _leave_one_file_out([f for f, _ in rows])
    return Data(rows, texts, y, targets, is_open, folds, "leave one development file out", FALSE_ALARM_BUDGET)


def abuse_data(folder: Path = DEV) -> Data:
    """The abuse development files; head ``abuse``."""
    rows = load_dev("abuse_dev*.jsonl", folder)
    texts = [abuse.normalise(item["text"]) for _, item in rows]
    y = np.array([item["label"] == "abuse" for _, item in rows], dtype=int)
    is_open = np.array([abuse.model_may_speak(item["text"]) for _, item in rows])
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=17)
    folds = [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(texts, y)]
    targets = {"abuse": (np.ones(len(y), dtype=bool), y)}
    return Data(
        rows, texts, y, targets, is_open, folds, "stratified 5-fold (seed 17)", ABUSE_FALSE_POSITIVE_BUDGET
    )


def train(data: Data) -> tuple[CharGramModel, dict[str, Any]]:
    """Settings chosen by cross-validation, then the model fitted on all of ``data``, and the grid."""
    best, table = _search(data.texts, data.y, data.folds, data.is_open, data.budget)
    meta = _meta(data.rows, data.how, data.budget, best)
    model = fit(
        data.texts, data.targets, low=best.low, high=best.high, c=best.c, threshold=best.threshold, meta=meta
    )
    return model, {"chosen": best.row(), "grid": table}


def refit(data: Data, shipped: CharGramModel) -> CharGramModel:
    """The model fitted again with a shipped model's settings (its n-gram range, C and threshold)."""
    c = float(shipped.meta["C"])
    return fit(
        data.texts, data.targets, low=shipped.low, high=shipped.high, c=c, threshold=shipped.threshold,
        meta=shipped.meta,
    )  # fmt: skip


def _meta(rows: list[tuple[str, dict[str, Any]]], how: str, budget: float, best: Choice) -> dict[str, Any]:
    return {
        "trained_on": sorted({f for f, _ in rows}),
        "items": len(rows),
        "chosen_by": how,
        "false_alarm_budget_on_open_items": budget,
        "C": best.c,
        "held_out": {"recall": round(best.recall, 4), "false_alarms": round(best.false_alarms, 4)},
        "learner": "TfidfVectorizer(sublinear_tf, l2) + LogisticRegression(liblinear, balanced)",
    }


def dump(model: CharGramModel) -> str:
    """The file text of a model (stable: sorted n-grams, fixed digits)."""
    return json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"


DATASETS: dict[str, Callable[[Path], Data]] = {"emergency": emergency_data, "abuse": abuse_data}


def main(argv: Sequence[str] | None = None) -> int:
    """Train both models and write them (or, with ``--check``, compare them with the shipped files)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a shipped file differs")
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    status = 0
    for name, dataset in DATASETS.items():
        model, report = train(dataset(DEV))
        text = dump(model)
        path = args.out / f"{name}_model.json"
        sys.stdout.write(json.dumps({name: report["chosen"]}, ensure_ascii=False) + "\n")
        if args.check:
            same = path.exists() and path.read_text(encoding="utf-8") == text
            status |= not same
            sys.stdout.write(f"{path}: {'up to date' if same else 'DIFFERS: run without --check'}\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            sys.stdout.write(f"wrote {path} ({len(model.weights)} n-grams)\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
