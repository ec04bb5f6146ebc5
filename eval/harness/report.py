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
    parts = [f'<svg role="img" aria-label="metrics" width="{width}" height="{row_h * len(shown) + 10}">']
    for i, (name, v) in enumerate(shown):
        y = 5 + i * row_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{_e(name)}</text>')
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
    parts = [f'<svg role="img" aria-label="{_e(label)}" width="640" height="140">']
    for i, c in enumerate(counts):
        h = 100 * c / peak
        parts.append(
            f'<rect x="{10 + i * 30}" y="{110 - h:.1f}" width="26" height="{h:.1f}" fill="#57606a"/>'
        )
    parts.append(
        f'<text x="10" y="128" font-size="12">0 ms</text><text x="540" y="128" font-size="12">{top:.0f} ms</text>'
    )
    parts.append(f'<text x="10" y="12" font-size="12">{_e(label)}</text></svg>')
    return "".join(parts)


def _confusion(entry: dict[str, Any]) -> str:
    labels, matrix = entry.get("labels", []), entry.get("matrix", [])
    if not labels or len(labels) > 40:
        return ""
    head = "".join(f"<th>{_e(label[:6])}</th>" for label in labels)
    body = "".join(
        f"<tr><th>{_e(a)}</th>"
        + "".join(
            f'<td class="{"d" if i == j else ("x" if n else "")}">{n or ""}</td>' for j, n in enumerate(row)
        )
        + "</tr>"
        for i, (a, row) in enumerate(zip(labels, matrix, strict=True))
    )
    return f'<h3>Confusion (rows: gold, columns: predicted)</h3><table class="cm"><tr><th></th>{head}</tr>{body}</table>'


def _worst(rows: list[dict[str, Any]], suite: str, limit: int = 10) -> str:
    scored = []
    for row in rows:
        if row["suite"] != suite:
            continue
        scores = item_scores(row)
        bad = (
            1.0
            if row.get("error")
            else sum(
                1 - v if k not in LOWER_IS_BETTER else v
                for k, v in scores.items()
                if not math.isnan(v) and 0 <= v <= 1
            )
        )
        scored.append((bad, row))
    scored.sort(key=lambda pair: -pair[0])
    parts = ["<h3>Worst items</h3>"]
    for bad, row in scored[:limit]:
        if bad <= 0:
            break
        out = row.get("output") or {}
        data = row["input"]
        question = (
            data.get("question") or data.get("text") or json.dumps(data.get("turns", ""), ensure_ascii=False)
        )
        answer = out.get("answer") or out.get("departments") or out.get("turns") or row.get("error")
        parts.append(f"<details><summary>{_e(row['id'])} — {_e(str(question)[:80])}</summary>")
        parts.append(f"<p><b>answer</b> {_e(answer)}</p>")
        if data.get("gold"):
            parts.append(f"<p><b>gold</b> {_e(data['gold'])}</p>")
        if out.get("citations"):
            parts.append(f"<p><b>cited</b> {_e(out['citations'])}</p>")
        for ctx in out.get("contexts", []):
            parts.append(
                f"<blockquote>〔{_e(ctx['title'])} {_e(ctx['article'])}〕{_e(ctx['text'][:300])}</blockquote>"
            )
        if row.get("judge"):
            parts.append(
                f"<p><b>judge</b> {_e({k: row['judge'][k] for k in row['judge'] if k not in ('raw',)})}</p>"
            )
        parts.append(f"<p><b>scores</b> {_e(item_scores(row))}</p></details>")
    return "".join(parts)


STYLE = """body{font:15px/1.5 system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:24px;max-width:1100px}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 6px;font-size:13px}
.cm td{text-align:center;min-width:22px}.cm .d{background:#dafbe1}.cm .x{background:#ffebe9}
blockquote{margin:4px 0 4px 12px;padding-left:8px;border-left:3px solid #b3261e;color:#333}
details{margin:6px 0}summary{cursor:pointer}.muted{color:#57606a}"""


def render_report(run_dir: Path) -> Path:
    """Write ``report.html`` into the run folder; return its path."""
    summary = write_summary(run_dir)
    _, rows = load_run(run_dir)
    meta = summary["meta"]
    parts = [
        f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>cityagent eval {_e(summary['run'])}</title>",
        f"<style>{STYLE}</style><h1>Evaluation run {_e(summary['run'])}</h1>",
        f"<p class='muted'>started {_e(meta.get('started'))} · commit {_e(meta.get('commit'))} · model {_e(meta.get('model'))}"
        f" · embeddings {_e(meta.get('embeddings'))} · judge {_e(meta.get('judge') or 'none')}</p>",
    ]
    if meta.get("suite_errors"):
        parts.append(
            "<h2>Suite lines not run</h2><ul>"
            + "".join(f"<li>{_e(e)}</li>" for e in meta["suite_errors"])
            + "</ul>"
        )
    for suite, entry in summary["suites"].items():
        parts.append(
            f"<h2>{_e(suite)} <span class='muted'>({_e(entry['task'])}, {entry['items']} items, {entry['errors']} errors)</span></h2>"
        )
        table = "".join(
            f"<tr><td>{_e(k)}</td><td>{v['mean']}</td><td>[{v['low']}, {v['high']}]</td><td>{v['n']}</td><td>{v['nan']}</td></tr>"
            for k, v in entry["metrics"].items()
        )
        parts.append(
            f"<table><tr><th>metric</th><th>mean</th><th>95% interval</th><th>n</th><th>NaN</th></tr>{table}</table>"
        )
        parts.append(_bars(entry["metrics"]))
        if entry.get("department_macro_f1") is not None:
            parts.append(f"<p>department macro-F1: {entry['department_macro_f1']}</p>")
        if entry.get("judge_seconds_per_item"):
            parts.append(f"<p>judge seconds per item: {_e(entry['judge_seconds_per_item'])}</p>")
        parts.append(f"<p>latency: {_e(entry['latency'])}</p>")
        latencies = [float(r["latency_ms"]) for r in rows if r["suite"] == suite and not r.get("error")]
        parts.append(_histogram(latencies, f"{suite}: latency per item"))
        parts.append(_confusion(entry))
        if entry["error_samples"]:
            parts.append("<p>errors: " + "; ".join(_e(e) for e in entry["error_samples"]) + "</p>")
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
