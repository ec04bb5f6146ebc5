"""免申即享 for policy officers: rules (draft, approval, active), push lists, per-enterprise explanations."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import ValidationError

from service.auth import require
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from tools.subsidies.rules import PolicyRule, RuleError
from tools.subsidies.store import RuleStore
from tools.users import User

router = APIRouter(prefix="/api/subsidies", tags=["subsidies"])
Officer = Annotated[User, Depends(require("policy_officer"))]
Svc = Annotated[Services, Depends(get_services)]


def _rule(services: Services, rule_id: str) -> PolicyRule:
    rule: PolicyRule | None = next((r for r in services.subsidy_rules() if r.id == rule_id), None)
    if rule is None:
        raise ServiceError(404, "rule_not_found", f"没有生效的政策规则 {rule_id}。", "rule_id")
    return rule


@router.get("/rules")
async def list_rules(user: Officer, services: Svc, rule_id: str | None = None) -> list[dict[str, Any]]:
    """Every stored version, newest first: status, author, approver, the rule itself."""
    return await asyncio.to_thread(RuleStore(services.engine).versions, rule_id)


@router.post("/rules", status_code=201)
async def save_draft(user: Officer, services: Svc, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Store a rule as a new draft version; it takes effect only once approved (422 names what is wrong)."""
    try:
        rule = PolicyRule.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ServiceError(422, "invalid_rule", f"{field}: {first['msg']}", field) from exc
    draft = await asyncio.to_thread(RuleStore(services.engine).save_draft, rule, user.username)
    return {"rule_id": draft.id, "version": draft.version, "status": draft.status}


@router.post("/rules/{rule_id}/versions/{version}/approve")
async def approve(
    rule_id: str, version: Annotated[int, Path(ge=1, le=1_000_000)], user: Officer, services: Svc
) -> dict[str, Any]:
    """Make a draft the active rule (the version before it is retired)."""
    try:
        rule = await asyncio.to_thread(RuleStore(services.engine).approve, rule_id, version, user.username)
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
    matcher = services.subsidy_matcher()
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
    credit_code: str, user: Officer, services: Svc, as_of: date | None = None
) -> list[dict[str, Any]]:
    """The 政策超市 of one enterprise: every active policy's decision and each condition with its clause."""
    matcher = services.subsidy_matcher()
    try:
        decisions = await asyncio.to_thread(
            matcher.explain, credit_code.upper(), services.subsidy_rules(), as_of or date.today()
        )
    except KeyError as exc:
        raise ServiceError(
            404, "enterprise_not_found", f"没有统一社会信用代码为 {credit_code} 的企业。", "credit_code"
        ) from exc
    return [dataclasses.asdict(d) for d in decisions]
