"""``cityagent ingest`` and ``cityagent search``: policy documents in, cited passages out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli._common import cli_settings, fail, guarded, parse_date


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
            "effective_date": parse_date(effective_date), "expiry_date": parse_date(expiry_date),
        }.items()
        if value is not None
    }  # fmt: skip
    services = build_services(cli_settings())
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
        summary = guarded(go)
    finally:
        for bar in bars.values():
            bar.close()
        asyncio.run(services.close())
    typer.echo(summary)


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
        raise fail(f"--mode must be hybrid, dense or bm25, not {mode}")
    services = build_services(cli_settings())
    flt = SearchFilter(
        region=region, category=category, valid_on=parse_date(valid_on), include_repealed=include_repealed
    )
    try:
        hits = guarded(lambda: services.retriever.search_sync(query, k=k, mode=mode, flt=flt))  # type: ignore[arg-type]
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
