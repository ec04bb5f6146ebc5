"""``cityagent eval run|report|compare|gate|build-suite``: evaluation runs of the real agents."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from service.cli._common import cli_settings, fail, guarded

eval_app = typer.Typer(help="Evaluation: run suites, report, compare runs, gate CI.", no_args_is_help=True)


@eval_app.command("run")
def eval_run(
    suite: Annotated[list[Path], typer.Option(help="Suite file(s), JSONL (eval/suites/README.md).")],
    out: Annotated[Path | None, typer.Option(help="Run folder (default: data_dir/eval-runs/<time>).")] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this run folder (finished items are kept).")
    ] = None,
    judge_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible judge URL for ragas; 'embedded' = the service's model."),
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model name.")] = None,
    concurrency: Annotated[int, typer.Option(help="Items at once.")] = 1,
    limit: Annotated[int | None, typer.Option(help="Run only the first N items.")] = None,
    split: Annotated[
        str | None, typer.Option(help="Only one fixed half of each suite, by item id: dev or test.")
    ] = None,
) -> None:
    """Run suites through the real agents into a resumable run folder; write summary.json and report.html."""
    from datetime import UTC, datetime

    from eval.harness.drafts import refuse_unlabelled
    from eval.harness.judge import Judge
    from eval.harness.report import render_report
    from eval.harness.runner import RunConfig, Runner
    from eval.harness.suites import load_suite
    from service.container import build_services

    settings = cli_settings()
    if split not in (None, "dev", "test"):
        fail(f"--split must be dev or test, got {split!r}")
    suites = [guarded(lambda p=path: load_suite(p, split)) for path in suite]  # type: ignore[misc]
    for s in suites:
        for error in s.errors:
            typer.echo(f"skipped: {error}", err=True)
    guarded(lambda: refuse_unlabelled(suites))  # before any model starts
    folder = resume or out or settings.data_dir / "eval-runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    services = build_services(settings)

    async def go() -> Path:
        await services.start()
        try:
            judge = None
            if judge_url:
                url = judge_url
                model = judge_model or ""
                if judge_url == "embedded":
                    client = services.llm.client
                    url = getattr(client, "base_url", "")
                    if not url:
                        raise ValueError(
                            "--judge-url embedded needs the embedded model running (llm.backend=embedded)"
                        )
                    model = model or await client.ping()
                judge = Judge(url, model or "default", services.embedder)
            runner = Runner(
                services, RunConfig(out=folder, concurrency=concurrency, limit=limit, judge=judge)
            )

            def progress(done: int, total: int, key: str) -> None:
                typer.echo(f"[{done}/{total}] {key}", err=True)

            return await runner.run(suites, progress)
        finally:
            await services.close()

    run_dir = guarded(lambda: asyncio.run(go()))
    report = render_report(run_dir)
    typer.echo(f"run folder: {run_dir}\nreport: {report}")
    typer.echo((run_dir / "summary.json").read_text(encoding="utf-8"))


@eval_app.command("report")
def eval_report(run: Path) -> None:
    """Write summary.json and the self-contained report.html of a run folder."""
    from eval.harness.report import render_report

    typer.echo(str(guarded(lambda: render_report(run))))


@eval_app.command("compare")
def eval_compare(
    run_a: Path,
    run_b: Path,
    html: Annotated[Path | None, typer.Option(help="Also write the comparison page (Chinese) here.")] = None,
) -> None:
    """B against A, item by item: differences with intervals and p-values, and the items that changed."""
    from eval.harness.comparison import render_comparison
    from eval.harness.report import compare_runs, write_atomic

    result = guarded(lambda: compare_runs(run_a, run_b))
    if html is not None:
        guarded(lambda: write_atomic(html, render_comparison(run_a, run_b)))
        typer.echo(f"comparison page: {html}", err=True)
    for suite, metrics in result["suites"].items():
        for metric, d in metrics.items():
            mark = "*" if d["significant"] else " "
            typer.echo(f"{mark} {suite}.{metric}: {d['a']} -> {d['b']} ({d['difference']:+.4f}, "
                       f"95% [{d['interval'][0]:+.4f}, {d['interval'][1]:+.4f}], p={d['p_value']}, "
                       f"{d['changed']} of {d['n']} items changed)")  # fmt: skip
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@eval_app.command("gate")
def eval_gate(
    run: Path,
    minimum: Annotated[
        list[str], typer.Option("--min", help="metric=value or suite.metric=value (repeatable).")
    ],
) -> None:
    """Exit 1 when a metric of the run is below its minimum (for CI); 2 on a bad threshold."""
    from eval.harness.report import gate, write_summary

    thresholds: dict[str, float] = {}
    for item in minimum:
        name, _, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            raise fail(f"--min {item!r}: expected metric=number") from None
    failures = gate(guarded(lambda: write_summary(run)), thresholds)
    for failure in failures:
        typer.echo(f"below threshold: {failure}", err=True)
    if failures:
        raise typer.Exit(1)
    typer.echo("gate passed")


@eval_app.command("build-suite")
def eval_build_suite(
    source: Annotated[str, typer.Argument(help="tipdm: the TipDM labelled messages as a dispatch suite.")],
    out: Annotated[
        Path, typer.Option(help="Where to write the suite (outside the project: it is their data).")
    ],
    csv_path: Annotated[Path, typer.Option("--csv", help="The TipDM CSV.")] = Path(
        "../shared/data/workorders-tipdm/labelled_messages.csv"
    ),
) -> None:
    """Write a suite built from shared data (the data is not copied into the project)."""
    from eval.bench.dispatch import load_tipdm

    if source != "tipdm":
        raise fail(f"unknown source {source!r} (known: tipdm)")
    orders = guarded(lambda: load_tipdm(csv_path))
    with out.open("w", encoding="utf-8") as f:
        for o in orders:
            row = {"task": "dispatch", "id": f"tipdm-{o.order_id}", "title": o.title, "text": o.text,
                   "department": o.department}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {len(orders)} dispatch items to {out}")


@eval_app.command("calibrate-gate")
def eval_calibrate_gate(
    run: Annotated[list[Path], typer.Argument(help="Run folders of qa suites (eval run with any model).")],
    out: Annotated[Path, typer.Option(help="Where to write the gate (JSON; chat.gate_file reads it).")],
    split: Annotated[
        str | None, typer.Option(help="Fit on this half only (dev); the other is scored.")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    max_false_refusals: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Answerable questions the gate may refuse (CV).")
    ] = 0.02,
) -> None:
    """Fit the answerability gate on labelled questions; print its cross-validated figures."""
    from eval.harness.gate_fit import apply, calibrate, cutoff_baseline, rows_from_runs
    from knowledge.config import evidence_cosine

    if split not in (None, "dev", "test"):
        fail(f"--split must be dev or test, got {split!r}")
    settings = cli_settings()
    backend = settings.embeddings.backend
    rows = guarded(lambda: rows_from_runs(run, split))
    trained = f"{', '.join(str(r) for r in run)}{f' ({split} half)' if split else ''}"
    gate, report = guarded(
        lambda: calibrate(
            rows, backend, folds=folds, max_false_refusals=max_false_refusals, trained_on=trained
        )
    )
    dense = evidence_cosine(backend, settings.chat.min_dense_score)
    report["cutoffs_baseline_same_rows"] = cutoff_baseline(rows, dense, settings.chat.min_bm25_score)
    if split is not None:
        other = "test" if split == "dev" else "dev"
        held = guarded(lambda: rows_from_runs(run, other))
        report[f"{other}_half"] = {
            "gate": apply(gate, held),
            "cutoffs_baseline": cutoff_baseline(held, dense, settings.chat.min_bm25_score),
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(gate.to_json() + "\n", encoding="utf-8")
    typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    typer.echo(f"gate written to {out}")
