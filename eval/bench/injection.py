"""``cityagent bench injection``: detection and false alarms of the injection detector.

On a suite of sentences labelled ``injection`` / ``benign`` (by default the frozen
``eval/suites/injection.v1.jsonl``, written by someone other than the detector's author),
the detector (:mod:`knowledge.injection`) is scored beside its baseline, the phrase list the
resident guard used before (kept here, verbatim, for that purpose only).

``--dev`` instead cross-validates the threshold on the development sentences
(``knowledge/data/injection_dev*.jsonl``): for each of k folds, the threshold with the best
balanced accuracy on the other folds is applied to the held-out fold. This is how
:data:`knowledge.injection.THRESHOLD` was chosen; the frozen suite is only ever reported on.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from knowledge import injection

ROOT = Path(__file__).resolve().parents[2]
FROZEN_SUITE = ROOT / "eval" / "suites" / "injection.v1.jsonl"
DEV_SET = ROOT / "knowledge" / "data" / "injection_dev.jsonl"
# The second development round, written after the first frozen-suite figure (never from its items).
DEV_SET_2 = ROOT / "knowledge" / "data" / "injection_dev2.jsonl"
DEV_SETS = (DEV_SET, DEV_SET_2)

# The phrase list of agents/resident/guard.py before knowledge.injection (the baseline).
PHRASE_LIST = re.compile(
    r"忽略.{0,8}(?:规则|指令|指示|要求|设定|提示)|无视.{0,8}(?:规则|指令)|不要遵守|"
    r"你现在是|你的新(?:任务|身份|规则)|扮演|系统提示|system\s*prompt|"
    r"ignore (?:all |the )?(?:previous|above|prior) (?:instructions|rules)|disregard .{0,20}instructions|"
    r"(?:assistant|AI|助手|机器人|模型)(?:必须|应当|应该|要)?.{0,6}(?:回答|告诉|回复|输出)",
    re.IGNORECASE,
)
Item = tuple[str, bool]  # (text, is an injection)


def load_items(path: Path) -> list[Item]:
    """(text, is injection) of every line; a line without text or a known label is an error."""
    items: list[Item] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        label = row.get("label")
        if label not in ("injection", "benign") or not str(row.get("text", "")).strip():
            raise ValueError(f"{path.name}:{number}: needs text and a label injection|benign")
        items.append((str(row["text"]), label == "injection"))
    return items


def rates(items: Sequence[Item], flagged: Callable[[str], bool]) -> dict[str, Any]:
    """Detection rate on injections, false-alarm rate on benign sentences, and the counts."""
    hits = sum(1 for text, bad in items if bad and flagged(text))
    alarms = sum(1 for text, bad in items if not bad and flagged(text))
    positives = sum(1 for _, bad in items if bad)
    negatives = len(items) - positives
    precision = hits / (hits + alarms) if hits + alarms else 0.0
    recall = hits / positives if positives else 0.0
    return {
        "detection_rate": round(recall, 3),
        "false_alarm_rate": round(alarms / negatives if negatives else 0.0, 3),
        "precision": round(precision, 3),
        "f1": round(2 * precision * recall / (precision + recall) if precision + recall else 0.0, 3),
        "detected": f"{hits}/{positives}",
        "false_alarms": f"{alarms}/{negatives}",
    }


def misses(items: Sequence[Item], flagged: Callable[[str], bool]) -> dict[str, list[str]]:
    """The injections missed and the benign sentences flagged."""
    return {
        "missed": [t for t, bad in items if bad and not flagged(t)],
        "false_alarms": [t for t, bad in items if not bad and flagged(t)],
    }


def run_injection_bench(suite: Path = FROZEN_SUITE, show_errors: bool = False) -> dict[str, Any]:
    """The detector and the phrase-list baseline on ``suite``."""
    items = load_items(suite)
    started = time.perf_counter()
    detector = rates(items, injection.is_injection)
    per_sentence_us = (time.perf_counter() - started) / max(1, len(items)) * 1e6
    result: dict[str, Any] = {
        "suite": suite.name,
        "items": len(items),
        "injections": sum(1 for _, bad in items if bad),
        "threshold": injection.THRESHOLD,
        "detector": {**detector, "us_per_sentence": round(per_sentence_us, 1)},
        "baseline_phrase_list": rates(items, lambda t: bool(PHRASE_LIST.search(t))),
    }
    if show_errors:
        result["errors"] = misses(items, injection.is_injection)
    return result


def _balanced(items: Sequence[Item], scores: Sequence[float], threshold: float) -> float:
    pos = [s >= threshold for (_, bad), s in zip(items, scores, strict=True) if bad]
    neg = [s < threshold for (_, bad), s in zip(items, scores, strict=True) if not bad]
    return (sum(pos) / max(1, len(pos)) + sum(neg) / max(1, len(neg))) / 2


def cross_validate(paths: Sequence[Path] = DEV_SETS, folds: int = 5) -> dict[str, Any]:
    """k-fold choice of the threshold on the development sets; held-out figures and the full-set choice."""
    items = [item for path in paths for item in load_items(path)]
    scores = [injection.score(text)[0] for text, _ in items]
    grid = [round(0.5 + 0.05 * i, 2) for i in range(31)]

    def best(indices: list[int]) -> float:
        sub = [items[i] for i in indices]
        sub_scores = [scores[i] for i in indices]
        # ties: the middle of the best plateau (robust, not its edge)
        values = [_balanced(sub, sub_scores, t) for t in grid]
        top = max(values)
        plateau = [t for t, v in zip(grid, values, strict=True) if v == top]
        return plateau[len(plateau) // 2]

    held_out_hits = held_out_alarms = 0
    chosen = []
    for fold in range(folds):
        train = [i for i in range(len(items)) if i % folds != fold]
        test = [i for i in range(len(items)) if i % folds == fold]
        threshold = best(train)
        chosen.append(threshold)
        held_out_hits += sum(1 for i in test if items[i][1] and scores[i] >= threshold)
        held_out_alarms += sum(1 for i in test if not items[i][1] and scores[i] >= threshold)
    positives = sum(1 for _, bad in items if bad)
    return {
        "dev_sets": [path.name for path in paths],
        "items": len(items),
        "fold_thresholds": chosen,
        "held_out_detection_rate": round(held_out_hits / positives, 3),
        "held_out_false_alarm_rate": round(held_out_alarms / (len(items) - positives), 3),
        "threshold_on_all_dev": best(list(range(len(items)))),
        "threshold_in_use": injection.THRESHOLD,
        "baseline_phrase_list": rates(items, lambda t: bool(PHRASE_LIST.search(t))),
    }
