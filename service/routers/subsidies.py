"""免申即享 for policy officers: rules (draft, approval, active), push lists, per-enterprise explanations."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from service.auth import require
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from service.routers.knowledge import upload_slots
from service.uploads import multipart_body, save_upload
from tools.enterprises.dictionary import Dictionary, NoDictionaryError
from tools.subsidies.cases import CasesFailed
from tools.subsidies.review import review, validity_problems
from tools.subsidies.rules import PolicyRule, RuleError, parse_rule
from tools.subsidies.sql import DIALECTS, decision_sql, transpile
from tools.subsidies.store import RuleStore, SelfApprovalError
from tools.users import User

router = APIRouter(prefix="/api/subsidies", tags=["subsidies"])
Officer = Annotated[User, Depends(require("policy_officer"))]
OfficerOrEnterprise = Annotated[User, Depends(require("policy_officer", "enterprise"))]
Svc = Annotated[Services, Depends(get_services)]
Version = Annotated[int, Path(ge=1, le=1_000_000)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
RuleId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$")]
IMPORT_TYPES = (".csv", ".parquet", ".pq")
IMPORT_PATH = "/api/subsidies/enterprises/import"


def _rule(services: Services, rule_id: str) -> PolicyRule:
    rule: PolicyRule | None = next((r for r in services.subsidies.rules() if r.id == rule_id), None)
    if rule is None:
        raise ServiceError(404, "rule_not_found", f"没有生效的政策规则 {rule_id}。", "rule_id")
    return rule


def _dictionary(services: Services) -> Dictionary:
    """The city's enterprise data dictionary (409 before a city pack has brought one)."""
    try:
        dictionary: Dictionary = services.subsidies.dictionary()
    except NoDictionaryError as exc:
        raise ServiceError(409, "no_enterprise_dictionary", str(exc)) from exc
    return dictionary


@router.get("/rules")
async def list_rules(user: Officer, services: Svc, rule_id: str | None = None) -> list[dict[str, Any]]:
    """Every stored version, newest first: status, author, approver, the rule itself."""
    return await asyncio.to_thread(RuleStore(services.engine).versions, rule_id)


@router.post("/rules", status_code=201)
async def save_draft(user: Officer, services: Svc, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Store a rule as a new draft version; it takes effect only once approved (422 names what is wrong)."""
    try:
        rule = parse_rule(body, _dictionary(services))  # every field must be one of the city's
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ServiceError(422, "invalid_rule", f"{field}: {first['msg']}", field) from exc
    draft = await asyncio.to_thread(RuleStore(services.engine).save_draft, rule, user.username)
    return {"rule_id": draft.id, "version": draft.version, "status": draft.status}


def _policy_text(services: Services, title: str) -> str | None:
    """The text of the policy document titled ``title``, rebuilt from the knowledge base, or None."""
    from knowledge.index.base import document_text  # noqa: PLC0415
    from knowledge.registry import DocumentRegistry  # noqa: PLC0415

    for doc in DocumentRegistry(services.engine).all():
        if doc.meta.title == title and doc.status != "indexing":
            return document_text(services.index, doc.doc_id)
    return None


@router.get("/rules/{rule_id}/versions/{version}/review")
async def review_version(rule_id: str, version: Version, user: Officer, services: Svc) -> dict[str, Any]:
    """A version for approval: each condition beside its clause, and whether the quote is in the document."""
    try:
        rule, status = await asyncio.to_thread(RuleStore(services.engine).version, rule_id, version)
    except RuleError as exc:
        raise ServiceError(404, "rule_not_found", str(exc), "rule_id") from exc
    document = await asyncio.to_thread(_policy_text, services, rule.document)
    rows = review(rule, document, date.today(), _dictionary(services))
    cases = await asyncio.to_thread(services.subsidies.case_results, rule)
    return {
        "tests": [dataclasses.asdict(c) | {"message": c.message()} for c in cases],
        "tests_failed": sum(1 for c in cases if not c.passed),
        "rule_id": rule.id, "version": version, "status": status, "document": rule.document,
        "doc_number": rule.doc_number, "mode": rule.mode, "valid_from": rule.valid_from,
        "valid_to": rule.valid_to, "document_found": document is not None, "items": rows,
        "validity_problems": validity_problems(rule, document),
        "flagged": sum(1 for r in rows if r["quote_found"] is False),
    }  # fmt: skip


class SendBack(BaseModel):
    """Why a draft goes back to its author."""

    note: str = Field(min_length=2, max_length=2000)


@router.post("/rules/{rule_id}/versions/{version}/send-back")
async def send_back(
    rule_id: str, version: Version, body: SendBack, user: Officer, services: Svc
) -> dict[str, Any]:
    """Return a draft with the reason; it stays on record and can never become active."""
    try:
        await asyncio.to_thread(
            RuleStore(services.engine).send_back, rule_id, version, user.username, body.note
        )
    except RuleError as exc:
        raise ServiceError(409, "not_a_draft", str(exc)) from exc
    return {"rule_id": rule_id, "version": version, "status": "returned", "returned_by": user.username}


@router.get("/rules/{rule_id}/sql")
async def rule_sql(
    rule_id: str,
    user: Officer,
    services: Svc,
    as_of: date | None = None,
    dialect: Annotated[str, Query(pattern="^(" + "|".join(DIALECTS) + ")$")] = "duckdb",
) -> Response:
    """The SQL the active rule runs as, for DuckDB or (through sqlglot) another engine."""
    rule = _rule(services, rule_id)
    try:
        sql = decision_sql(rule, as_of or date.today(), _dictionary(services))
    except RuleError as exc:
        raise ServiceError(409, "rule_not_compilable", str(exc), "rule_id") from exc
    if dialect != "duckdb":
        sql = await asyncio.to_thread(transpile, sql, dialect)
    return Response(sql + "\n", media_type="text/plain; charset=utf-8")


@router.get("/rules/{rule_id}/versions/{version}/simulate")
async def simulate_version(
    rule_id: str,
    version: Version,
    user: Officer,
    services: Svc,
    as_of: date | None = None,
    limit: Annotated[int, Query(ge=0, le=5000)] = 200,
) -> dict[str, Any]:
    """What-if: the version against the active one on the city's enterprises (staff only: non-public facts).

    Counts per decision and the total amount before and after, and the enterprises whose decision or
    amount changes (the first ``limit``), each with the conditions whose outcome changes and their clause.
    """
    _dictionary(services)
    try:
        await asyncio.to_thread(RuleStore(services.engine).version, rule_id, version)
    except RuleError as exc:
        raise ServiceError(404, "rule_not_found", str(exc), "rule_id") from exc
    try:
        result = await asyncio.to_thread(
            services.subsidies.simulate, rule_id, version, as_of or date.today(), limit=limit
        )
    except RuleError as exc:  # a version that no longer fits the city's fields
        raise ServiceError(409, "rule_not_compilable", str(exc), "rule_id") from exc
    return result.as_dict()


@router.post("/rules/{rule_id}/versions/{version}/approve")
async def approve(rule_id: str, version: Version, user: Officer, services: Svc) -> dict[str, Any]:
    """Make a draft the active rule once its test cases pass (the version before it is retired).

    409 ``rule_tests_failed`` names each failing case, what it expected, what the rule gave and why.
    """
    allow_self = services.settings.subsidies.allow_self_approval
    _dictionary(services)
    try:
        rule = await asyncio.to_thread(
            services.subsidies.approve, rule_id, version, user.username, allow_self=allow_self
        )
    except SelfApprovalError as exc:
        raise ServiceError(403, "self_approval", str(exc)) from exc
    except CasesFailed as exc:
        raise ServiceError(409, "rule_tests_failed", str(exc)) from exc
    except RuleError as exc:
        raise ServiceError(409, "not_approvable", str(exc)) from exc
    return {"rule_id": rule.id, "version": version, "status": "active", "approved_by": user.username}


@router.get("/rules/{rule_id}/push-list")
async def push_list(
    rule_id: str,
    user: Officer,
    services: Svc,
    as_of: date | None = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
) -> Any:
    """Who gets the policy without applying (eligible enterprises with amounts); ``format=csv`` to export."""
    rule = _rule(services, rule_id)
    day = as_of or date.today()
    matcher = await asyncio.to_thread(services.subsidies.matcher)  # the first use loads the registry
    if fmt == "csv":
        text, _ = await asyncio.to_thread(matcher.push_list_csv, rule, day)
        headers = {"content-disposition": f'attachment; filename="{rule_id}-{day}.csv"'}
        return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers=headers)
    rows = await asyncio.to_thread(matcher.push_list, rule, day)
    counts = await asyncio.to_thread(matcher.counts, rule, day)
    return {"rule_id": rule.id, "as_of": day.isoformat(), "counts": counts,
            "eligible": [{"credit_code": c, "name": n, "amount": a} for c, n, a in rows]}  # fmt: skip


@router.get("/enterprises/{credit_code}")
async def explain(
    credit_code: str, user: OfficerOrEnterprise, services: Svc, as_of: date | None = None
) -> list[dict[str, Any]]:
    """The 政策超市 of one enterprise: every active policy's decision and each condition with its clause.

    Policy officers see any enterprise; an enterprise account sees only its own.
    """
    if not user.speaks_for(credit_code.upper()):
        raise ServiceError(403, "forbidden", "企业账号只能查看本企业的政策匹配结果。", "credit_code")
    matcher = await asyncio.to_thread(services.subsidies.matcher)  # the first use loads the registry
    try:
        decisions = await asyncio.to_thread(
            matcher.explain, credit_code.upper(), services.subsidies.rules(), as_of or date.today()
        )
    except KeyError as exc:
        raise ServiceError(
            404, "enterprise_not_found", f"没有统一社会信用代码为 {credit_code} 的企业。", "credit_code"
        ) from exc
    return [dataclasses.asdict(d) for d in decisions]


_IMPORT_BODY = multipart_body("file", {"file": {"type": "string", "format": "binary"}})


@router.post(IMPORT_PATH.removeprefix("/api/subsidies"), openapi_extra=_IMPORT_BODY)
async def import_enterprises(request: Request, user: Officer, services: Svc) -> dict[str, Any]:
    """Import enterprises through the city's data dictionary: good rows stored, bad rows listed by line.

    The officer is checked before a byte of the body is read (the body is parsed here, after the
    dependencies), and uploads share the bounded slots of the document uploads.
    """
    slots = upload_slots(request.app, services.settings.server.max_concurrent_uploads)
    if slots.locked():
        raise ServiceError(429, "uploads_busy", "too many uploads at once: try again in a moment")
    async with slots:
        form = await request.form(max_files=2, max_fields=5)
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise ServiceError(422, "missing_field", "file: the enterprise export is required", "file")
            folder = services.settings.data_dir / "imports" / uuid.uuid4().hex
            path = await asyncio.to_thread(save_upload, file, folder, IMPORT_TYPES, "file")
        finally:
            await form.close()
        return await _import(services, folder, path, file.filename or "file")


async def _import(services: Services, folder: Any, path: Any, filename: str) -> dict[str, Any]:
    from tools.enterprises import EnterpriseRegistry  # noqa: PLC0415

    try:
        report = await asyncio.to_thread(EnterpriseRegistry(services.engine).import_file, path)
    except ValueError as exc:  # the file as a whole: encoding, header, not Parquet
        raise ServiceError(422, "unreadable_import", str(exc).replace(str(path), filename), "file") from exc
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return {
        "file": filename, "stored": report.stored, "rejected": report.rejected_rows, "notes": report.notes,
        "errors": [{"line": line, "message": message} for line, message in report.errors],
        "errors_truncated": report.rejected_rows > len(report.errors),
    }  # fmt: skip


class MatchRun(BaseModel):
    """A match run: which active policies (all when empty), on which day."""

    rule_ids: list[str] = Field(default_factory=list, max_length=1000)
    as_of: date | None = None


@router.post("/match-jobs", status_code=202)
async def start_match_job(body: MatchRun, user: Officer, services: Svc) -> dict[str, Any]:
    """Run every enterprise × the chosen active policies in the background; poll the job for progress."""
    active = services.subsidies.rules()
    day = body.as_of or date.today()
    if body.rule_ids:
        by_id = {r.id: r for r in active}
        unknown = [r for r in body.rule_ids if r not in by_id]
        if unknown:
            raise ServiceError(
                404, "rule_not_found", f"没有生效的政策规则 {', '.join(unknown)}。", "rule_ids"
            )
        rules = [by_id[r] for r in dict.fromkeys(body.rule_ids)]
    else:
        rules = [r for r in active if r.valid_on(day)]
    if not rules:
        raise ServiceError(409, "no_active_rules", "没有可运行的生效政策规则。", "rule_ids")
    return await asyncio.to_thread(services.subsidies.submit_job, rules, day, user.username)


@router.get("/match-jobs")
async def list_match_jobs(user: Officer, services: Svc) -> list[dict[str, Any]]:
    """The latest match jobs, newest first."""
    return await asyncio.to_thread(services.subsidies.jobs.recent)


@router.get("/match-jobs/{job_id}")
async def get_match_job(job_id: JobId, user: Officer, services: Svc) -> dict[str, Any]:
    """A job's status, progress (policies done of total) and counts per policy."""
    job: dict[str, Any] | None = await asyncio.to_thread(services.subsidies.jobs.get, job_id)
    if job is None:
        raise ServiceError(404, "job_not_found", f"没有匹配任务 {job_id}。", "job_id")
    return job


@router.get("/match-jobs/{job_id}/push-lists/{rule_id}.csv")
async def job_push_list(job_id: JobId, rule_id: RuleId, user: Officer, services: Svc) -> FileResponse:
    """The push list a job wrote for one policy (CSV with a BOM, for spreadsheets)."""
    path = await asyncio.to_thread(services.subsidies.jobs.push_list, job_id, rule_id)
    if path is None:
        raise ServiceError(
            404, "push_list_not_ready", f"任务 {job_id} 还没有政策 {rule_id} 的推送名单。", "rule_id"
        )
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{rule_id}-{job_id[:8]}.csv")
