"""Two runs on one page: each shared metric side by side, the paired difference and the items that changed.

Built on :func:`eval.harness.report.compare_runs` (the same numbers ``cityagent eval compare`` prints);
the page is self-contained like the report (no script, no external file). A difference is coloured
by whether it is better or worse for that metric (lower is better for the error rates), and only
when it is significant (p < 0.05); otherwise it is grey.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from eval.harness.labels import metric_label
from eval.harness.report import LOWER_IS_BETTER, STYLE, compare_runs, load_run

COMPARE_STYLE = (
    ".better{background:#dafbe1}.worse{background:#ffebe9}.same{color:#57606a}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _verdict(metric: str, d: dict[str, Any]) -> tuple[str, str]:
    """(css class, words) of a difference."""
    if not d["significant"] or d["difference"] == 0:
        return "same", "无显著差异"
    better = (
        (d["difference"] < 0)
        if metric in LOWER_IS_BETTER or metric == "amount_abs_error"
        else (d["difference"] > 0)
    )
    return ("better", "B 更好") if better else ("worse", "B 更差")


def _run_line(tag: str, name: str, meta: dict[str, Any]) -> str:
    return (
        f"<li><b>{tag}</b> {_e(name)} <span class='muted'>开始于 {_e(meta.get('started'))} · 提交 "
        f"{_e(meta.get('commit'))} · 模型 {_e(meta.get('model'))}</span></li>"
    )


def render_comparison(run_a: Path, run_b: Path) -> str:
    """The page comparing run B with run A (their shared items)."""
    result = compare_runs(run_a, run_b)
    meta_a, _ = load_run(run_a)
    meta_b, _ = load_run(run_b)
    parts = [
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
        f"<title>评测对比 {_e(run_a.name)} ↔ {_e(run_b.name)}</title>",
        f"<style>{STYLE}{COMPARE_STYLE}</style><h1>两次评测运行对比</h1><ul>",
        _run_line("A", run_a.name, meta_a),
        _run_line("B", run_b.name, meta_b),
        f"</ul><p>共有条目 {result['shared_items']} 条（只比较两次都跑过的条目，逐条配对）。</p>",
    ]
    if not result["suites"]:
        parts.append("<p class='muted'>两次运行没有共同的已完成条目，无法对比。</p>")
    for suite, metrics in result["suites"].items():
        parts.append(f"<h2>{_e(suite)}</h2>")
        rows = []
        for metric, d in metrics.items():
            css, words = _verdict(metric, d)
            low, high = d["interval"]
            cells = [d["a"], d["b"], f"{d['difference']:+.4f}", f"[{low:+.4f}, {high:+.4f}]", d["p_value"]]
            rows.append(
                f"<tr class='{css}'><td>{_e(metric_label(metric))} "
                f"<span class='muted'>{_e(metric)}</span></td>"
                + "".join(f"<td class='n'>{_e(c)}</td>" for c in cells)
                + f"<td>{words}</td><td class='n'>{d['changed']} / {d['n']}</td></tr>"
            )
        parts.append(
            f"<table aria-label='{_e(suite)} 指标对比'><tr><th>指标</th><th>A</th><th>B</th>"
            "<th>差值（B−A）</th><th>95% 置信区间</th><th>p 值</th><th>结论</th><th>变化条目</th></tr>"
            + "".join(rows)
            + "</table>"
        )
        changed = [(metric, c) for metric, d in metrics.items() for c in d["changed_items"]]
        if changed:
            parts.append(
                "<details><summary>分数有变化的条目</summary>"
                "<table><tr><th>条目</th><th>指标</th><th>A</th><th>B</th></tr>"
            )
            parts.extend(
                f"<tr><td>{_e(c['item'])}</td><td>{_e(metric_label(metric))}</td>"
                f"<td class='n'>{c['a']:.3f}</td><td class='n'>{c['b']:.3f}</td></tr>"
                for metric, c in changed
            )
            parts.append("</table></details>")
    return "".join(parts)
