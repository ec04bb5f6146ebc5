"""``cityagent bench emergency``: the resident assistant's emergency and abuse checks on labelled suites.

Each figure is printed beside the baseline: the phrase lists the router used before (kept here,
not in product code, so the comparison can always be rerun). Suites are the JSONL formats of
``eval/suites/README.md`` (``emergency``: ``label`` emergency/ordinary and ``services``;
``abuse``: ``label`` abuse/ordinary).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.resident.abuse import is_abuse
from agents.resident.emergency import detect
from eval.bench.stats import percentile

SUITES = Path(__file__).resolve().parents[1] / "suites"
EMERGENCY_SUITE = SUITES / "emergency.v1.jsonl"
ABUSE_SUITE = SUITES / "abuse.v1.jsonl"

# The router's emergency phrase list before issue 17 (agents/resident/intents.py, commit 0f5e268).
_OLD_EMERGENCY = re.compile(
    r"着火|起火|失火|火灾|冒烟.{0,4}(?:楼|房|屋|窗)|烧起来|"
    r"(?:煤气|燃气|天然气|液化气).{0,4}(?:泄漏|泄露|漏气|味道很大|爆)|闻到.{0,4}(?:煤气|燃气|天然气)|爆炸|"
    r"受伤|流血|昏迷|晕倒|倒地不起|心脏病|不省人事|中毒|触电|溺水|落水|"
    r"被困|困在|关在电梯|电梯.{0,4}(?:困|关)|跳楼|轻生|自杀|持刀|砍人|抢劫|打架.{0,4}(?:受伤|流血)"
)
# Its abuse list, and the notice it gave every emergency: the three numbers, 119 first.
_OLD_ABUSE = re.compile(
    r"傻[逼比]|sb\b|操你|草你|妈的|他妈|去死|滚蛋|废物|垃圾东西|脑残|白痴|狗东西", re.IGNORECASE
)
_OLD_NOTICE = ("119", "120", "110")

# a detector: text -> the numbers its notice gives, first one first (None: not an emergency)
Detector = Callable[[str], Sequence[str] | None]


def phrase_list_baseline(text: str) -> Sequence[str] | None:
    """The old phrase list: an emergency or not; its notice always named 119, 120 and 110 in that order."""
    return _OLD_NOTICE if _OLD_EMERGENCY.search(text) else None


def phrase_list_abuse(text: str) -> bool:
    """The old abuse list."""
    return bool(_OLD_ABUSE.search(text))


def current_detector(text: str) -> Sequence[str] | None:
    """The product's check (agents.resident.emergency)."""
    found = detect(text)
    return found.services if found else None


def load_items(path: Path, task: str) -> list[dict[str, Any]]:
    """The suite's items of ``task``; a line that is not one says its number."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if item.get("task") != task or not isinstance(item["text"], str):
                raise ValueError(f"not a {task!r} item")
            item["label"] = str(item["label"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no {task!r} items")
    return items


def wilson(successes: int, total: int, z: float = 1.96) -> list[float]:
    """95 % Wilson interval of a proportion."""
    if total == 0:
        return [math.nan, math.nan]
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def _timed(fn: Callable[[str], Any], text: str) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn(text)
    return out, (time.perf_counter() - started) * 1000


def score_emergency(items: list[dict[str, Any]], detector: Detector) -> dict[str, Any]:
    """Recall, false alarms, the numbers named, latency and the items it got wrong."""
    positives = [i for i in items if i["label"] == "emergency"]
    negatives = [i for i in items if i["label"] != "emergency"]
    ms: list[float] = []
    caught = exact = first_right = 0
    missed: list[str] = []
    false_alarms: list[str] = []
    per_number = {s: [0, 0] for s in ("119", "120", "110")}  # [named, needed]
    for item in items:
        services, took = _timed(detector, item["text"])
        ms.append(took)
        gold = sorted(item.get("services") or [])
        if item["label"] != "emergency":
            if services:
                false_alarms.append(item["text"])
            continue
        for s in gold:
            per_number.setdefault(s, [0, 0])[1] += 1
            per_number[s][0] += bool(services and s in services)
        if not services:
            missed.append(item["text"])
            continue
        caught += 1
        exact += sorted(services) == gold
        first_right += services[0] in gold
    return {
        "emergencies": len(positives),
        "ordinary": len(negatives),
        "recall": round(caught / len(positives), 3) if positives else math.nan,
        "recall_ci95": wilson(caught, len(positives)),
        "false_alarm_rate": round(len(false_alarms) / len(negatives), 3) if negatives else math.nan,
        "false_alarm_ci95": wilson(len(false_alarms), len(negatives)),
        "services_exact": round(exact / len(positives), 3) if positives else math.nan,
        "first_number_right": round(first_right / len(positives), 3) if positives else math.nan,
        "number_recall": {s: round(n / d, 3) if d else math.nan for s, (n, d) in per_number.items()},
        "latency_ms": {"p50": round(percentile(ms, 50), 3), "p95": round(percentile(ms, 95), 3)},
        "missed": missed,
        "false_alarms": false_alarms,
    }


def score_abuse(items: list[dict[str, Any]], check: Callable[[str], bool]) -> dict[str, Any]:
    """Precision, recall and the false positives of an abuse check."""
    tp = fp = fn = 0
    false_positives: list[str] = []
    missed: list[str] = []
    ms: list[float] = []
    for item in items:
        flagged, took = _timed(check, item["text"])
        ms.append(took)
        if item["label"] == "abuse":
            tp += flagged
            fn += not flagged
            if not flagged:
                missed.append(item["text"])
        elif flagged:
            fp += 1
            false_positives.append(item["text"])
    return {
        "abuse": tp + fn,
        "ordinary": len(items) - tp - fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else math.nan,
        "recall": round(tp / (tp + fn), 3) if tp + fn else math.nan,
        "recall_ci95": wilson(tp, tp + fn),
        "false_positives": false_positives,
        "missed": missed,
        "latency_ms": {"p50": round(percentile(ms, 50), 3), "p95": round(percentile(ms, 95), 3)},
    }


def run_emergency_bench(
    emergency_suite: Path = EMERGENCY_SUITE, abuse_suite: Path = ABUSE_SUITE
) -> dict[str, Any]:
    """Both checks and both baselines on the given suites."""
    emergencies = load_items(emergency_suite, "emergency")
    abuse = load_items(abuse_suite, "abuse")
    return {
        "emergency_suite": str(emergency_suite),
        "emergency": {
            "detector": score_emergency(emergencies, current_detector),
            "baseline_phrase_list": score_emergency(emergencies, phrase_list_baseline),
        },
        "abuse_suite": str(abuse_suite),
        "abuse": {
            "detector": score_abuse(abuse, is_abuse),
            "baseline_phrase_list": score_abuse(abuse, phrase_list_abuse),
        },
    }
