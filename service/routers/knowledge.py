"""Policy search for everyone, document ingestion for admins."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, UploadFile
from pydantic import BaseModel

from knowledge.index import SearchFilter
from knowledge.ingest import Ingestor
from knowledge.loaders import READABLE
from knowledge.registry import DocumentRegistry
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from service.uploads import save_upload

router = APIRouter(tags=["knowledge"])
UPLOAD_PATH = "/api/admin/documents"


class SearchHit(BaseModel):
    """A passage with its citation and exact text."""

    citation: str
    title: str
    article: str
    heading_path: list[str]
    doc_number: str
    issuer: str
    source: str
    text: str
    score: float
    ranks: dict[str, int]


class SearchResponse(BaseModel):
    """Hits, best first, and where the time went."""

    hits: list[SearchHit]
    timing_ms: dict[str, float]


@router.get("/api/search", response_model=SearchResponse)
async def search(
    services: Annotated[Services, Depends(get_services)],
    q: Annotated[str, Query(min_length=1, max_length=500, description="The question or keywords.")],
    k: Annotated[int, Query(ge=1, le=20)] = 5,
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
    region: Annotated[str | None, Query(max_length=50)] = None,
    category: Annotated[str | None, Query(max_length=50)] = None,
    valid_on: date | None = None,
    include_repealed: bool = False,
) -> SearchResponse:
    """Search the city's policy documents; every hit carries its citation."""
    flt = SearchFilter(region=region, category=category, valid_on=valid_on, include_repealed=include_repealed)
    retriever = services.retriever
    hits = await retriever.search(q, k=k, mode=mode, flt=flt)
    timing = retriever.last_timing
    return SearchResponse(
        hits=[
            SearchHit(
                citation=h.citation,
                title=h.title,
                article=h.article,
                heading_path=list(h.payload.get("heading_path", [])),
                doc_number=str(h.payload.get("doc_number", "")),
                issuer=str(h.payload.get("issuer", "")),
                source=str(h.payload.get("source", "")),
                text=h.text,
                score=h.score,
                ranks=h.ranks,
            )
            for h in hits
        ],
        timing_ms={"embed": timing.embed_ms, "dense": timing.dense_ms, "bm25": timing.bm25_ms},
    )


def require_admin(
    services: Annotated[Services, Depends(get_services)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Until staff sign-in exists: a configured bearer token, compared in constant time."""
    token = services.settings.auth.admin_token
    if token is None:
        raise ServiceError(
            403, "admin_disabled", "admin endpoints are disabled: set CITYAGENT_AUTH__ADMIN_TOKEN"
        )
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise ServiceError(401, "unauthorized", "a valid admin bearer token is required")


class FailedFile(BaseModel):
    """A file that was not ingested, and why."""

    file: str
    reason: str


class IngestResponse(BaseModel):
    """What the upload did."""

    documents: int
    chunks: int
    unchanged: int
    superseded: int
    embedded: int
    failed: list[FailedFile]


def _save_uploads(files: list[UploadFile], folder: Path) -> None:
    for upload in files:
        save_upload(upload, folder, READABLE, "files")


@router.post(UPLOAD_PATH, response_model=IngestResponse, dependencies=[Depends(require_admin)])
async def upload_documents(
    services: Annotated[Services, Depends(get_services)],
    files: Annotated[list[UploadFile], File(description="Policy files (md, txt, html, docx, text pdf).")],
    title: Annotated[str | None, Form()] = None,
    issuer: Annotated[str | None, Form()] = None,
    doc_number: Annotated[str | None, Form()] = None,
    region: Annotated[str | None, Form()] = None,
    category: Annotated[str | None, Form()] = None,
    effective_date: Annotated[date | None, Form()] = None,
    expiry_date: Annotated[date | None, Form()] = None,
) -> IngestResponse:
    """Ingest uploaded documents (text, BM25 and dense vectors); bad files are listed with the reason."""
    folder = services.settings.data_dir / "uploads" / uuid.uuid4().hex
    await asyncio.to_thread(_save_uploads, files, folder)
    values: dict[str, Any] = {
        "title": title, "issuer": issuer, "doc_number": doc_number, "region": region, "category": category,
        "effective_date": effective_date, "expiry_date": expiry_date,
    }  # fmt: skip
    overrides = {key: value for key, value in values.items() if value is not None} or None
    ingestor = Ingestor(
        services.index, DocumentRegistry(services.engine), services.embedder,
        embed_max_chars=services.settings.embeddings.max_chars,
    )  # fmt: skip
    report = await asyncio.to_thread(ingestor.ingest_paths, [folder], overrides=overrides)
    return IngestResponse(
        documents=report.documents,
        chunks=report.chunks,
        unchanged=report.unchanged,
        superseded=report.superseded,
        embedded=report.embedded,
        failed=[FailedFile(file=Path(path).name, reason=reason) for path, reason in report.failed],
    )
