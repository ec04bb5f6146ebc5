"""Reports of a run (one self-contained HTML page) and comparisons of two runs, and the CI gate.

The page has no scripts and no external files: metric bars with their intervals and latency
histograms are inline SVG; the dispatch confusion matrix is a table; the worst items show their
question, answer, citations and retrieved clauses.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.harness.labels import TASK_LABELS, metric_label
from eval.harness.runner import done_items
from eval.harness.scoring import item_scores, summarise
from eval.metrics.intervals import paired_difference

LOWER_IS_BETTER = {"false_refusal", "invented_answer"}


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(meta, finished items) of a run folder."""
    meta_path = run_dir / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no meta.json)")
    return json.loads(meta_path.read_text(encoding="utf-8")), list(done_items(run_dir).values())


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file, fsync, rename, fsync of the folder.

    A reader (the runs list) sees the old file or the new one, never a torn one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_summary(run_dir: Path) -> dict[str, Any]:
    """Score the run and write ``summary.json`` (atomically)."""
    meta, rows = load_run(run_dir)
    summary = {"run": meta.get("run"), "meta": meta, "suites": summarise(rows)}
    write_atomic(run_dir / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def _e(value: Any) -> str:
    return html.escape(str(value))


def _bars(metrics: dict[str, dict[str, Any]]) -> str:
    shown = [(k, v) for k, v in metrics.items() if v["mean"] is not None and 0 <= v["mean"] <= 1]
    if not shown:
        return ""
    row_h, width, left = 26, 640, 190
    scale = width - left - 90
    parts = [f'<svg role="img" aria-label="指标" width="{width}" height="{row_h * len(shown) + 10}">']
    for i, (name, v) in enumerate(shown):
        y = 5 + i * row_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{_e(metric_label(name))}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{v["mean"] * scale:.1f}" height="16" fill="#b3261e" opacity=".75"/>'
        )
        parts.append(
            f'<line x1="{left + v["low"] * scale:.1f}" x2="{left + v["high"] * scale:.1f}" y1="{y + 11}" y2="{y + 11}" stroke="#000" stroke-width="2"/>'
        )
        nan = f" · NaN {v['nan']}" if v["nan"] else ""
        parts.append(
            f'<text x="{left + scale + 6}" y="{y + 15}" font-size="12">{v["mean"]:.3f} (n={v["n"]}{nan})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(values: Sequence[float], label: str) -> str:
    if not values:
        return ""
    top = max(values)
    bins = 20
    width = (top / bins) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / width))] += 1
    peak = max(counts)
    parts = [f'<svg role="img" aria-label="{_e(label)}" width="640" height="156">']
    for i, c in enumerate(counts):
        h = 100 * c / peak
        parts.append(
            f'<rect x="{10 + i * 30}" y="{126 - h:.1f}" width="26" height="{h:.1f}" fill="#57606a"/>'
        )
    parts.append(
        f'<text x="10" y="144" font-size="12">0 毫秒</text><text x="540" y="144" font-size="12">{top:.0f} 毫秒</text>'
    )
    parts.append(f'<text x="10" y="12" font-size="12">{_e(label)}</text></svg>')
    return "".join(parts)


def _confusion(entry: dict[str, Any]) -> str:
    labels, matrix = entry.get("labels", []), entry.get("matrix", [])
    if not labels or len(labels) > 40:
        return ""
    head = "".join(f'<th class="v" title="{_e(label)}">{_e(label)}</th>' for label in labels)
    body = "".join(
        f"<tr><th>{_e(a)}</th>"
        + "".join(
            f'<td class="{"d" if i == j else ("x" if n else "")}">{n or ""}</td>' for j, n in enumerate(row)
        )
        + "</tr>"
        for i, (a, row) in enumerate(zip(labels, matrix, strict=True))
    )
    return (
        '<h3>混淆矩阵（行：标准答案，列：预测）</h3><div class="scroll">'
        f'<table class="cm"><tr><th></th>{head}</tr>{body}</table></div>'
    )


BINARY = {0.0, 1.0}
AMOUNT_TOLERANCE = 0.5  # 元: an amount further off than this is wrong


def badness(row: dict[str, Any]) -> tuple[int, float]:
    """(verdicts failed, mean shortfall of the graded scores) of one item; (0, …) is a correct item.

    A verdict is a 0/1 score (cited the right clause, refused when it should, the right department);
    graded scores (MRR, BLEU, ROUGE, chrF, judge scores) only order items that failed as often.
    """
    if row.get("error"):
        return 1, 1.0
    failed, shortfall = 0, []
    for name, value in item_scores(row).items():
        if math.isnan(value):
            continue
        if name == "amount_abs_error":
            failed += value > AMOUNT_TOLERANCE
        elif value in BINARY:
            failed += value == (0.0 if name not in LOWER_IS_BETTER else 1.0)
        elif 0 <= value <= 1:
            shortfall.append(1 - value)
    return failed, (sum(shortfall) / len(shortfall) if shortfall else 0.0)


def _shown_output(row: dict[str, Any]) -> str:
    """What the product answered, in the words of its task."""
    out = row.get("output") or {}
    if row.get("error"):
        return f"出错：{row['error']}"
    if row["task"] == "subsidy":
        parts = [str(out.get("decision", ""))]
        if out.get("amount") is not None:
            parts.append(f"金额 {out['amount']} 元")
        if out.get("missing"):
            parts.append("缺少 " + "、".join(map(str, out["missing"])))
        return "，".join(parts)
    if row["task"] == "dispatch":
        return "、".join(map(str, out.get("departments", [])[:3]))
    if row["task"] == "chat":
        return json.dumps(out.get("turns", out), ensure_ascii=False)[:600]
    return str(out.get("answer", "")) or "（空回答）"


def _worst(rows: list[dict[str, Any]], suite: str, limit: int = 10) -> str:
    scored = [(badness(row), row) for row in rows if row["suite"] == suite]
    failing = sorted((pair for pair in scored if pair[0][0] > 0), key=lambda pair: pair[0], reverse=True)
    parts = [f"<h3>最差的条目（{len(failing)} 条有判错，列出前 {min(limit, len(failing))} 条）</h3>"]
    if not failing:
        parts.append("<p class='muted'>没有判错的条目。</p>")
    for (failed, _), row in failing[:limit]:
        out = row.get("output") or {}
        data = row["input"]
        question = (
            data.get("question") or data.get("text") or json.dumps(data.get("turns", ""), ensure_ascii=False)
        )
        parts.append(
            f"<details><summary>{_e(row['id'])}（{failed} 项判错）— {_e(str(question)[:80])}</summary>"
        )
        parts.append(f"<p><b>输出</b> {_e(_shown_output(row))}</p>")
        expected = data.get("gold") or data.get("department") or data.get("decision")
        if expected:
            parts.append(f"<p><b>标准答案</b> {_e(expected)}</p>")
        if out.get("citations"):
            parts.append(f"<p><b>引用</b> {_e(out['citations'])}</p>")
        for ctx in out.get("contexts", []):
            parts.append(
                f"<blockquote>〔{_e(ctx['title'])} {_e(ctx['article'])}〕{_e(ctx['text'][:300])}</blockquote>"
            )
        if row.get("judge"):
            parts.append(
                f"<p><b>judge</b> {_e({k: row['judge'][k] for k in row['judge'] if k not in ('raw',)})}</p>"
            )
        scores = "，".join(f"{metric_label(k)} {v:.3g}" for k, v in item_scores(row).items())
        parts.append(f"<p><b>评分</b> {_e(scores or '无（出错）')}</p></details>")
    return "".join(parts)


STYLE = """body{font:15px/1.5 system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:24px;max-width:1100px}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 6px;font-size:13px}
.cm td{text-align:center;min-width:22px}.cm .d{background:#dafbe1}.cm .x{background:#ffebe9}
blockquote{margin:4px 0 4px 12px;padding-left:8px;border-left:3px solid #b3261e;color:#333}
details{margin:6px 0}summary{cursor:pointer}.muted{color:#57606a}
.scroll{overflow-x:auto}.cm th.v{writing-mode:vertical-rl;white-space:nowrap;vertical-align:bottom;font-weight:normal}"""


def render_report(run_dir: Path) -> Path:
    """Write ``report.html`` into the run folder; return its path."""
    summary = write_summary(run_dir)
    _, rows = load_run(run_dir)
    meta = summary["meta"]
    parts = [
        f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>cityagent eval {_e(summary['run'])}</title>",
        f"<style>{STYLE}</style><h1>评测运行 {_e(summary['run'])}</h1>",
        f"<p class='muted'>开始于 {_e(meta.get('started'))} · 提交 {_e(meta.get('commit'))} · 模型 {_e(meta.get('model'))}"
        f" · 向量模型 {_e(meta.get('embeddings'))} · 评审模型 {_e(meta.get('judge') or '无')}</p>",
    ]
    if meta.get("suite_errors"):
        parts.append(
            "<h2>未能运行的评测集条目</h2><ul>"
            + "".join(f"<li>{_e(e)}</li>" for e in meta["suite_errors"])
            + "</ul>"
        )
    for suite, entry in summary["suites"].items():
        parts.append(
            f"<h2>{_e(suite)} <span class='muted'>（{_e(TASK_LABELS.get(entry['task'], entry['task']))}，{entry['items']} 条，"
            f"{entry['errors']} 条出错）</span></h2>"
        )
        table = "".join(
            f"<tr><td>{_e(metric_label(k))} <span class='muted'>{_e(k)}</span></td><td>{v['mean']}</td><td>[{v['low']}, {v['high']}]</td><td>{v['n']}</td><td>{v['nan']}</td></tr>"
            for k, v in entry["metrics"].items()
        )
        parts.append(
            "<table><tr><th>指标</th><th>均值</th><th>95% 置信区间</th><th>条数</th><th>无法计算</th></tr>"
            f"{table}</table>"
        )
        parts.append(_bars(entry["metrics"]))
        if entry.get("department_macro_f1") is not None:
            parts.append(f"<p>部门宏平均 F1：{entry['department_macro_f1']}</p>")
        if entry.get("judge_seconds_per_item"):
            parts.append(f"<p>评审每条用时（秒）：{_e(entry['judge_seconds_per_item'])}</p>")
        latency = "，".join(f"{k.removesuffix('_ms')} {v} 毫秒" for k, v in entry["latency"].items())
        parts.append(f"<p>每条时延：{_e(latency or '无')}</p>")
        latencies = [float(r["latency_ms"]) for r in rows if r["suite"] == suite and not r.get("error")]
        parts.append(_histogram(latencies, f"{suite}：每条时延"))
        parts.append(_confusion(entry))
        if entry["error_samples"]:
            parts.append("<p>部分错误：" + "；".join(_e(e) for e in entry["error_samples"]) + "</p>")
        parts.append(_worst(rows, suite))
    path = run_dir / "report.html"
    write_atomic(path, "".join(parts))
    return path


def compare_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    """Run B against run A on their shared items.

    Per suite and metric: both means, the paired difference (B − A) with its interval and
    p-value, and the items whose score changed.
    """
    _, rows_a = load_run(run_a)
    _, rows_b = load_run(run_b)
    scores_a = {r["key"]: (r["suite"], item_scores(r)) for r in rows_a}
    scores_b = {r["key"]: (r["suite"], item_scores(r)) for r in rows_b}
    shared = sorted(set(scores_a) & set(scores_b))
    result: dict[str, Any] = {"a": str(run_a), "b": str(run_b), "shared_items": len(shared), "suites": {}}
    pairs: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    for key in shared:
        suite, a = scores_a[key]
        _, b = scores_b[key]
        for metric in set(a) & set(b):
            if not (math.isnan(a[metric]) or math.isnan(b[metric])):
                pairs.setdefault((suite, metric), []).append((key, a[metric], b[metric]))
    for (suite, metric), values in sorted(pairs.items()):
        diff = paired_difference([v[1] for v in values], [v[2] for v in values])
        changed = [{"item": k, "a": va, "b": vb} for k, va, vb in values if va != vb]
        result["suites"].setdefault(suite, {})[metric] = {
            "a": round(sum(v[1] for v in values) / len(values), 4),
            "b": round(sum(v[2] for v in values) / len(values), 4),
            "difference": round(diff.mean, 4),
            "interval": [round(diff.low, 4), round(diff.high, 4)],
            "p_value": round(diff.p_value, 4),
            "significant": diff.p_value < 0.05,
            "n": len(values),
            "changed_items": changed[:20],
            "changed": len(changed),
        }
    return result


def gate(summary: dict[str, Any], minimums: dict[str, float]) -> list[str]:
    """The thresholds a run misses (``metric`` or ``suite.metric`` → minimum mean); empty when it passes.

    A threshold naming a metric that no suite has is a failure too: a gate must not pass by typo.
    """
    failures = []
    for name, minimum in minimums.items():
        suite_name, _, metric = name.rpartition(".")
        found = False
        for suite, entry in summary["suites"].items():
            if suite_name and suite != suite_name:
                continue
            value = entry["metrics"].get(metric)
            if value is None:
                continue
            found = True
            mean = value["mean"]
            if mean is None or mean < minimum:
                failures.append(f"{suite}.{metric} = {mean} < {minimum}")
        if not found:
            failures.append(f"{name}: no such metric in this run")
    return failures
