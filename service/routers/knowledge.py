"""Policy search for everyone; document ingestion and the review of held documents for admins.

The upload route reads no body before it has checked the credentials and taken one of the
``server.max_concurrent_uploads`` upload slots (the middleware streams this path instead of
buffering it, and stops at ``server.max_upload_bytes``): an anonymous or surplus upload is
refused having read nothing. Each file is parsed on its own; one that cannot be read is listed
with its reason and the others go in whole. A document with sentences that read as orders to
the assistant is stored but held (``held``) until an admin releases or rejects it.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile

from knowledge.errors import DocumentNotHeldError
from knowledge.index import SearchFilter
from knowledge.ingest import IngestReport
from knowledge.loaders import READABLE
from knowledge.registry import DocumentRegistry
from knowledge.review import HeldDocument, ReviewQueue
from service.auth import SESSION_COOKIE, current_user
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from service.uploads import discard, multipart_body, save_all

router = APIRouter(tags=["knowledge"])
UPLOAD_PATH = "/api/admin/documents"
MAX_FILES = 50
_TEXT_FIELDS = ("title", "issuer", "doc_number", "region", "category")
_DATE_FIELDS = ("effective_date", "expiry_date")
DocId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$", description="The document id (16 hex digits).")]


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


def require_admin(request: Request, services: Annotated[Services, Depends(get_services)]) -> None:
    """The admin bearer token (constant-time compare), or a signed-in staff session with role admin.

    Reads headers and cookies only, never the body.
    """
    token = services.settings.auth.admin_token
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if (
        token is not None
        and given
        and secrets.compare_digest(given.encode(), token.get_secret_value().encode())
    ):
        return
    if request.cookies.get(SESSION_COOKIE) or given:  # perhaps a staff session (cookie or bearer)
        try:
            user = current_user(request, services)
        except ServiceError as exc:
            if exc.status != 401 or not given:
                raise
        else:
            if not user.has("admin"):
                raise ServiceError(403, "forbidden", "需要以下角色之一：admin。")
            return
    if token is None:
        raise ServiceError(
            403,
            "admin_disabled",
            "admin endpoints are disabled: set CITYAGENT_AUTH__ADMIN_TOKEN or sign in as admin",
        )
    raise ServiceError(401, "unauthorized", "a valid admin bearer token is required")


class FailedFile(BaseModel):
    """A file that was not ingested, and why."""

    file: str
    reason: str


class FlaggedSentence(BaseModel):
    """A sentence that reads as an order to the assistant, where it is in the document's text."""

    sentence: str
    start: int
    end: int
    score: float
    cues: list[str]


class HeldFile(BaseModel):
    """A document stored but held for an admin's review (not searchable until released)."""

    file: str
    doc_id: str
    title: str
    sentences: list[FlaggedSentence]


class IngestResponse(BaseModel):
    """What the upload did."""

    documents: int
    chunks: int
    unchanged: int
    superseded: int
    embedded: int
    failed: list[FailedFile]
    held: list[HeldFile]


class ReviewResult(BaseModel):
    """The outcome of a review."""

    doc_id: str
    title: str
    status: Literal["released", "rejected"]


def upload_slots(app: FastAPI, size: int) -> asyncio.Semaphore:
    """The app's semaphore bounding concurrent uploads (made on first use, in the serving loop)."""
    slots: asyncio.Semaphore | None = getattr(app.state, "upload_slots", None)
    if slots is None:
        slots = app.state.upload_slots = asyncio.Semaphore(size)
    return slots


def _overrides(form: FormData) -> dict[str, Any] | None:
    """The metadata fields of the form (422 naming the field when one is malformed)."""
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = form.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > 200:
            raise ServiceError(422, "invalid_field", f"{name}: text of at most 200 characters", name)
        values[name] = value
    for name in _DATE_FIELDS:
        value = form.get(name)
        if value is None or value == "":
            continue
        try:
            values[name] = date.fromisoformat(str(value))
        except ValueError as exc:
            raise ServiceError(422, "invalid_field", f"{name}: a date as YYYY-MM-DD", name) from exc
    return values or None


def _files(form: FormData) -> list[UploadFile]:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise ServiceError(422, "missing_field", "files: at least one file is required", "files")
    if len(files) > MAX_FILES:
        raise ServiceError(413, "too_many_files", f"files: at most {MAX_FILES} files per upload", "files")
    return files


def _response(report: IngestReport, services: Services) -> IngestResponse:
    registry = DocumentRegistry(services.engine)
    held: list[HeldFile] = []
    for path, doc_id, _ in report.held:
        row = registry.get(doc_id)
        if row is not None:
            flags = [FlaggedSentence(**f) for f in registry.flags(row)]
            held.append(HeldFile(file=Path(path).name, doc_id=doc_id, title=row.meta.title, sentences=flags))
    return IngestResponse(
        documents=report.documents,
        chunks=report.chunks,
        unchanged=report.unchanged,
        superseded=report.superseded,
        embedded=report.embedded,
        failed=[FailedFile(file=Path(path).name, reason=reason) for path, reason in report.failed],
        held=held,
    )


_UPLOAD_BODY = multipart_body(
    "files",
    {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        **{name: {"type": "string", "maxLength": 200} for name in _TEXT_FIELDS},
        **{name: {"type": "string", "format": "date"} for name in _DATE_FIELDS},
    },
)


@router.post(
    UPLOAD_PATH,
    response_model=IngestResponse,
    dependencies=[Depends(require_admin)],
    openapi_extra=_UPLOAD_BODY,
)
async def upload_documents(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> IngestResponse:
    """Ingest uploaded documents (md, txt, html, docx, text pdf); bad files are listed with the reason."""
    slots = upload_slots(request.app, services.settings.server.max_concurrent_uploads)
    if slots.locked():
        raise ServiceError(429, "uploads_busy", "too many uploads at once: try again in a moment")
    async with slots:
        form = await request.form(max_files=MAX_FILES + 1, max_fields=20)
        try:
            files = _files(form)
            overrides = _overrides(form)
            folder = services.settings.data_dir / "uploads" / uuid.uuid4().hex
            await asyncio.to_thread(save_all, files, folder, READABLE, "files")
        finally:
            await form.close()
        try:
            report = await asyncio.to_thread(services.ingestor().ingest_paths, [folder], overrides=overrides)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise
        await asyncio.to_thread(discard, folder, report.ingested)
    return await asyncio.to_thread(_response, report, services)


class HeldDocumentOut(BaseModel):
    """A held document and the sentences that held it."""

    doc_id: str
    title: str
    source: str
    chunks: int
    sentences: list[FlaggedSentence]


def _held_out(doc: HeldDocument) -> HeldDocumentOut:
    flags = [FlaggedSentence(**f) for f in doc.flags]
    return HeldDocumentOut(
        doc_id=doc.doc_id, title=doc.title, source=doc.source, chunks=doc.chunks, sentences=flags
    )


@router.get(
    UPLOAD_PATH + "/held", response_model=list[HeldDocumentOut], dependencies=[Depends(require_admin)]
)
async def held_documents(services: Annotated[Services, Depends(get_services)]) -> list[HeldDocumentOut]:
    """Documents held for review, each with its flagged sentences (found by no search until released)."""
    queue = ReviewQueue(services.ingestor(), DocumentRegistry(services.engine))
    return [_held_out(doc) for doc in await asyncio.to_thread(queue.held)]


async def _review(services: Services, doc_id: str, action: Literal["released", "rejected"]) -> ReviewResult:
    queue = ReviewQueue(services.ingestor(), DocumentRegistry(services.engine))
    try:
        doc = await asyncio.to_thread(queue.release if action == "released" else queue.reject, doc_id)
    except DocumentNotHeldError as exc:
        raise ServiceError(404, "document_not_held", str(exc), "doc_id") from exc
    return ReviewResult(doc_id=doc.doc_id, title=doc.title, status=action)


@router.post(
    UPLOAD_PATH + "/{doc_id}/release", response_model=ReviewResult, dependencies=[Depends(require_admin)]
)
async def release_document(
    doc_id: DocId, services: Annotated[Services, Depends(get_services)]
) -> ReviewResult:
    """Release a held document: it becomes searchable (and is embedded)."""
    return await _review(services, doc_id, "released")


@router.post(
    UPLOAD_PATH + "/{doc_id}/reject", response_model=ReviewResult, dependencies=[Depends(require_admin)]
)
async def reject_document(
    doc_id: DocId, services: Annotated[Services, Depends(get_services)]
) -> ReviewResult:
    """Reject a held document: its points and its registry row are deleted."""
    return await _review(services, doc_id, "rejected")
