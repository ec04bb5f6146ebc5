"""``cityagent bench emergency``: the resident assistant's emergency and abuse checks on labelled suites.

Every suite given is scored in one run by four methods, so each figure is read beside its baselines:

- ``detector``: the product's check (rules first, then the shipped character n-gram model where the
  rules found no danger and no counter-cue);
- ``rules``: the rules alone;
- ``baseline_phrase_list``: the phrase lists the router used before issue 17 (kept here, not in
  product code, so the comparison can always be rerun);
- ``baseline_tfidf_svc``: TF-IDF over character 1-3-grams + LinearSVC, trained in the run on the same
  development sets (tests/agents/data) as our model.

Suites are the JSONL formats of ``eval/suites/README.md`` (``emergency``: ``label`` emergency/ordinary
and ``services``; ``abuse``: ``label`` abuse/ordinary). Nothing here is fitted on a suite.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from agents.resident.abuse import is_abuse, is_abuse_by_rules
from agents.resident.emergency import detect, detect_by_rules
from eval.bench.screen_training import DEV, load_dev
from eval.bench.stats import percentile, wilson

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


def load_items(path: Path, task: str, text_field: str = "text") -> list[dict[str, Any]]:
    """The suite's items of ``task``; a line that is not one says its number."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if item.get("task") != task or not isinstance(item[text_field], str):
                raise ValueError(f"not a {task!r} item")
            item["label"] = str(item["label"] if text_field == "text" else "ordinary")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no {task!r} items")
    return items


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
        "false_positive_rate": round(fp / (len(items) - tp - fn), 3) if len(items) - tp - fn else math.nan,
        "false_positive_ci95": wilson(fp, len(items) - tp - fn),
        "false_positives": false_positives,
        "missed": missed,
        "latency_ms": {"p50": round(percentile(ms, 50), 3), "p95": round(percentile(ms, 95), 3)},
    }


def svc_baseline(folder: Path = DEV) -> tuple[Detector, Callable[[str], bool]]:
    """TF-IDF (character 1-3-grams) + LinearSVC, trained on the same development sets as our model.

    The plain learned method, on the raw text: one classifier for emergency / ordinary, one per number
    (119/120/110, on the emergencies; the likeliest when none is positive), one for abuse.
    """

    def model(texts: list[str], labels: list[bool]) -> Callable[[str], float]:
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        clf = LinearSVC(C=1.0, random_state=0).fit(vec.fit_transform(texts), labels)
        return lambda text: float(clf.decision_function(vec.transform([text]))[0])

    rows = [item for _, item in load_dev("emergency_dev*.jsonl", folder)]
    is_emergency = model([i["text"] for i in rows], [i["label"] == "emergency" for i in rows])
    positives = [i for i in rows if i["label"] == "emergency"]
    numbers = {
        s: model([i["text"] for i in positives], [s in i.get("services", []) for i in positives])
        for s in ("119", "120", "110")
    }

    def emergency(text: str) -> Sequence[str] | None:
        if is_emergency(text) <= 0:
            return None
        scores = {s: f(text) for s, f in numbers.items()}
        ranked = sorted(scores, key=lambda s: -scores[s])
        return tuple(s for s in ranked if scores[s] > 0) or tuple(ranked[:1])

    abuse_rows = [item for _, item in load_dev("abuse_dev*.jsonl", folder)]
    is_abusive = model([i["text"] for i in abuse_rows], [i["label"] == "abuse" for i in abuse_rows])
    return emergency, lambda text: is_abusive(text) > 0


def rules_detector(text: str) -> Sequence[str] | None:
    """The rules of agents.resident.emergency alone (no model)."""
    found, _ = detect_by_rules(text)
    return found.services if found else None


QUESTION_SUITES = (SUITES / "resident_qa.v1.jsonl", SUITES / "demo_qa.v1.jsonl")


def default_suites(kind: str) -> list[Path]:
    """Every frozen version of a suite in eval/suites (``emergency.v1.jsonl``, ``emergency.v2.jsonl``…)."""
    return sorted(SUITES.glob(f"{kind}.v*.jsonl"))


def load_questions(path: Path) -> list[str]:
    """The questions of a ``qa`` suite: residents' ordinary messages, none an emergency or abuse."""
    return [str(item["question"]) for item in load_items(path, "qa", text_field="question")]


def score_ordinary(questions: list[str], flag: Callable[[str], Any]) -> dict[str, Any]:
    """How many ordinary questions a check flags (each one an alarm or a refusal a resident did not need)."""
    flagged = [q for q in questions if flag(q)]
    return {
        "questions": len(questions),
        "flagged": len(flagged),
        "rate": round(len(flagged) / len(questions), 3),
        "ci95": wilson(len(flagged), len(questions)),
        "examples": flagged,
    }


def run_emergency_bench(
    emergency_suites: Sequence[Path] = (EMERGENCY_SUITE,),
    abuse_suites: Sequence[Path] = (ABUSE_SUITE,),
    question_suites: Sequence[Path] = (),
) -> dict[str, Any]:
    """Our checks, the rules alone, the old phrase lists and TF-IDF + LinearSVC on each suite, in one run.

    ``question_suites`` (``qa`` suites) add the share of residents' ordinary questions each check flags.
    Every suite is read before anything is scored, so a bad line fails the run at once and says where.
    """
    emergencies = {str(p): load_items(p, "emergency") for p in emergency_suites}
    abuse_items = {str(p): load_items(p, "abuse") for p in abuse_suites}
    questions = {str(p): load_questions(p) for p in question_suites}
    svc_emergency, svc_abuse = svc_baseline()
    detectors: dict[str, Detector] = {
        "detector": current_detector, "rules": rules_detector,
        "baseline_phrase_list": phrase_list_baseline, "baseline_tfidf_svc": svc_emergency,
    }  # fmt: skip
    checks: dict[str, Callable[[str], bool]] = {
        "detector": is_abuse, "rules": is_abuse_by_rules,
        "baseline_phrase_list": phrase_list_abuse, "baseline_tfidf_svc": svc_abuse,
    }  # fmt: skip
    return {
        "emergency": {
            suite: {name: score_emergency(items, d) for name, d in detectors.items()}
            for suite, items in emergencies.items()
        },
        "abuse": {
            suite: {name: score_abuse(items, c) for name, c in checks.items()}
            for suite, items in abuse_items.items()
        },
        "questions": {
            suite: {
                name: {
                    "emergency": score_ordinary(qs, detectors[name]),
                    "abuse": score_ordinary(qs, checks[name]),
                }
                for name in detectors
            }
            for suite, qs in questions.items()
        },
    }


def _pct(rate: float, ci: list[float]) -> str:
    return f"{rate * 100:.1f} % [{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table: one row per suite and method."""
    lines = [
        "emergency: suite | method | recall [95%] | false alarms [95%] | numbers exact | first number | p95"
    ]
    for suite, methods in result["emergency"].items():
        for name, r in methods.items():
            lines.append(
                f"{Path(suite).name} | {name} | {r['recall']:.3f} [{r['recall_ci95'][0]:.3f}, "
                f"{r['recall_ci95'][1]:.3f}] ({r['emergencies']}) | "
                f"{_pct(r['false_alarm_rate'], r['false_alarm_ci95'])} ({r['ordinary']}) | "
                f"{r['services_exact']:.3f} | {r['first_number_right']:.3f} | {r['latency_ms']['p95']:.3f}"
            )
    lines.append("abuse: suite | method | precision | recall [95%] | false positives [95%] | p95 ms")
    for suite, methods in result["abuse"].items():
        for name, r in methods.items():
            lines.append(
                f"{Path(suite).name} | {name} | {r['precision']:.3f} | {r['recall']:.3f} "
                f"[{r['recall_ci95'][0]:.3f}, {r['recall_ci95'][1]:.3f}] ({r['abuse']}) | "
                f"{len(r['false_positives'])}/{r['ordinary']} = "
                f"{_pct(r['false_positive_rate'], r['false_positive_ci95'])} | {r['latency_ms']['p95']:.3f}"
            )
    if result.get("questions"):
        lines.append("ordinary questions: suite | method | emergency alarms [95%] | abuse flags [95%]")
    for suite, methods in result.get("questions", {}).items():
        for name, r in methods.items():
            e, a = r["emergency"], r["abuse"]
            lines.append(
                f"{Path(suite).name} | {name} | {e['flagged']}/{e['questions']} = "
                f"{_pct(e['rate'], e['ci95'])} | {a['flagged']}/{a['questions']} = "
                f"{_pct(a['rate'], a['ci95'])}"
            )
    return "\n".join(lines)
