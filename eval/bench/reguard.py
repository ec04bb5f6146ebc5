"""The answer guard re-run on the model answers a run recorded: a guard change measured without the model.

``python -m eval.bench.reguard RUN_DIR [--guard-file OLD_GUARD.py]``. A run of ``cityagent eval run``
with a model records, for each qa item, the model's answer before the guard (``model_answer``) and the
clauses it was given (``contexts``). This re-checks every such answer with the guard of this checkout
(and, with ``--guard-file``, with another version of ``agents/resident/guard.py``, e.g.
``git show REV:agents/resident/guard.py > /tmp/guard_old.py``), rebuilds the reply the way the answer
node does (:func:`agents.resident.nodes.checked_reply`) and scores both with the run's own scoring:
false refusals, invented answers, complete, citation precision, wrong facts. The model is called
never, so the comparison is paired: the same model text under two guards.

Items the model never answered (refused by the gate or the judge, its 资料未涉及 first, an
emergency) keep the reply the run recorded. An answer with 资料未涉及 after a guess of the model's
own is declined as the node now declines it (a run before session 12 showed the guess). The
validity notes the run recorded are appended again; the report offer is not (it holds no figure and
no citation).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from agents.resident import nodes, prompts
from agents.resident.prompts import NOT_COVERED_MARK
from eval.harness.report import load_run
from eval.harness.scoring import item_scores
from eval.metrics.intervals import bootstrap_mean

METRICS = (
    "false_refusal",
    "invented_answer",
    "complete",
    "citation_precision",
    "citation_accuracy",
    "wrong_facts",
)


def _guard_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("guard_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _clauses(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"title": c["title"], "label": c["article"], "text": c["text"]} for c in out.get("contexts", [])]


def regard_row(row: dict[str, Any], verify: Callable[..., Any] | None = None) -> dict[str, Any] | None:
    """The row with its answer rebuilt from the recorded model answer; None when there is none to re-check."""
    out = row.get("output") or {}
    raw = str(out.get("model_answer") or "")
    if row.get("task") != "qa" or not raw or raw.startswith(NOT_COVERED_MARK) or not out.get("contexts"):
        return None
    clauses = _clauses(out)
    question = str(out.get("query") or row["input"]["question"])
    hotline = str(out.get("hotline") or "12345")
    gate = out.get("gate") or {}
    shown = clauses[:2]
    verbatim = "\n\n".join(f"〔{c['title']} {c['label']}〕\n{c['text']}" for c in shown)
    if NOT_COVERED_MARK in raw:  # declined after a guess: the clauses where the gate is sure, else refused
        answer, cited = (verbatim, shown) if gate.get("zone") == "answer" else (prompts.NOT_COVERED, [])
        return _with(row, out, answer, cited)
    final = (
        nodes.checked_reply(raw, clauses, question, hotline, verify)
        if verify is not None
        else nodes.checked_reply(raw, clauses, question, hotline)
    )
    if final.unsupported and not nodes.unsupported_shows_clauses(gate, final.checked.removed):
        answer, cited = prompts.NOT_COVERED, []  # as the node replies (the city's names aside)
    elif final.unsupported:  # the clauses verbatim, as the node shows them
        answer, cited = verbatim, shown
    else:
        answer, cited = final.reply, final.cited
    return _with(row, out, answer, cited)


def _with(
    row: dict[str, Any], out: dict[str, Any], answer: str, cited: list[dict[str, Any]]
) -> dict[str, Any]:
    answer = "\n".join([answer, *out.get("validity", [])])
    new_out = {
        **out,
        "answer": answer,
        "citations": [{"title": c["title"], "article": c["label"]} for c in cited],
    }
    return {**row, "output": new_out}


def compare(rows: Sequence[dict[str, Any]], guards: dict[str, Callable[..., Any] | None]) -> dict[str, Any]:
    """Each metric's mean under the run's own replies and under each guard, over the same items."""
    versions: dict[str, list[dict[str, Any]]] = {"as run": list(rows)}
    rechecked = 0
    for name, verify in guards.items():
        rebuilt = [regard_row(r, verify) for r in rows]
        rechecked = sum(r is not None for r in rebuilt)  # the same items under every guard
        versions[name] = [new or old for new, old in zip(rebuilt, rows, strict=True)]
    report: dict[str, Any] = {"items": len(rows), "model_answers": rechecked, "metrics": {}}
    for name, version in versions.items():
        scores = [item_scores(r) for r in version]
        entry = {}
        for metric in METRICS:
            values = [s[metric] for s in scores if metric in s]
            if values:
                mean = bootstrap_mean(values)
                entry[metric] = {
                    "mean": round(mean.mean, 3),
                    "ci": [round(mean.low, 3), round(mean.high, 3)],
                    "n": len(values),
                }
        report["metrics"][name] = entry
    return report


def main(argv: Sequence[str] | None = None) -> None:
    """Print the comparison as a table and as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder of `cityagent eval run`")
    parser.add_argument("--guard-file", type=Path, action="append", default=[], help="another guard.py")
    args = parser.parse_args(argv)
    _meta, rows = load_run(args.run)
    guards: dict[str, Callable[..., Any] | None] = {"this guard": None}
    for path in args.guard_file:
        guards[str(path)] = _guard_module(path).verify_answer
    report = compare(rows, guards)
    lines = ["| replies | " + " | ".join(METRICS) + " |", "| --- |" + " --- |" * len(METRICS)]
    for name, entry in report["metrics"].items():
        cells = [f"{entry[m]['mean']} ({entry[m]['n']})" if m in entry else "" for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sys.stdout.write(f"items {report['items']}, model answers re-checked {report['model_answers']}\n")
    sys.stdout.write("\n".join(lines) + "\n" + json.dumps(report, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
