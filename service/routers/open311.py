"""Open311 GeoReport v2 at ``/open311/v2/``: the city's request types, and requests over the work-order store.

::

    GET  discovery.json           where the endpoint is and what it speaks
    GET  services.json            the city's request types (its pack's ``services.yaml``)
    GET  services/{code}.json     one type's attributes (the extra questions it asks)
    POST requests.json            file a request (``api_key`` of a client app; see ``cityagent open311``)
    GET  requests.json            requests by ids, service_code, start_date/end_date (90 days at most), status
    GET  requests/{id}.json       one request (its id is the work order's ticket number)
    GET  tokens/{token}.json      the request a token stands for

A filed request is a work order like one taken by phone: the same store, loop, deadlines, dispatch,
idempotency (an ``Idempotency-Key`` header) and masking. ``status`` is ``closed`` once the order is
办结 or 合并 and ``open`` before; ``agency_responsible`` is the department it was dispatched to and
``expected_datetime`` its closing deadline. Texts are stored masked, so no caller, keyed or not,
reads a phone or ID number back. Errors are GeoReport's list, ``[{"code", "description"}]``, with
the parameter at fault in ``field`` and at the start of the description; nothing is stored then.
JSON or XML by the path's extension (``service/open311_format.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from service.container import Services
from service.deps import get_services
from service.open311_format import (
    CLOSED,
    ERRORS,
    Format,
    Open311Failure,
    Open311Route,
    catalog,
    request_view,
    respond,
)
from tools.citypack import City
from tools.open311 import (
    MAX_RESULTS,
    ApiKeys,
    Open311Records,
    Submission,
    intake,
)
from tools.work_orders import IdempotencyConflictError, State

logger = logging.getLogger(__name__)

SPEC = "http://wiki.open311.org/GeoReport_v2"
WINDOW = timedelta(days=90)  # GeoReport v2: the default window of GET requests, and the widest allowed
MAX_IDS = 100
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route, responses=ERRORS)
Svc = Annotated[Services, Depends(get_services)]


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _read_limit(services: Services, request: Request) -> None:
    if wait := services.open311_read_limiter.hit(_client_address(request)):
        raise Open311Failure(
            429, f"too many requests from this address: retry in {wait:.0f} s", None,
            {"Retry-After": str(max(1, int(wait + 0.999)))},
        )  # fmt: skip


def _format(fmt: str) -> Format:
    if fmt not in ("json", "xml"):
        raise Open311Failure(400, f"format {fmt[:16]!r} is not offered: use .json or .xml", "format")
    return "json" if fmt == "json" else "xml"


def _split(name: str) -> tuple[str, Format]:
    """``"SL2026….json"`` -> (``"SL2026…"``, ``"json"``)."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or not stem:
        raise Open311Failure(400, "end the path with .json or .xml", "format")
    return stem, _format(fmt)


def _jurisdiction(city: City, sent: str | None) -> None:
    own = catalog(city).jurisdiction_id
    if sent and sent != own:
        raise Open311Failure(
            400, f"{sent[:64]!r} is not served here (this endpoint serves {own or 'one jurisdiction'})",
            "jurisdiction_id",
        )  # fmt: skip


@router.get("/discovery.json")
async def discovery(request: Request, services: Svc) -> JSONResponse:
    """Where this GeoReport v2 endpoint is and which formats it speaks (Open311 service discovery)."""
    _read_limit(services, request)
    city = services.city
    return JSONResponse(
        {
            "contact": f"{city.hotline_name} {city.hotline}",
            "key_service": "API keys are issued by the city's administrators (cityagent open311 issue-key)",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": str(request.url_for("list_services", fmt="json")).removesuffix("/services.json"),
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }
    )


@router.get("/services.{fmt}")
async def list_services(fmt: str, request: Request, services: Svc) -> Response:
    """The city's request types."""
    form = _format(fmt)
    _read_limit(services, request)
    _jurisdiction(services.city, request.query_params.get("jurisdiction_id"))
    return respond(
        form,
        [
            {
                "service_code": s.service_code, "service_name": s.service_name, "description": s.description,
                "metadata": bool(s.attributes), "type": s.type, "keywords": ",".join(s.keywords),
                "group": s.group or "",
            }
            for s in catalog(services.city).services
        ],
        "services",
    )  # fmt: skip


@router.get("/services/{name}")
async def service_definition(name: str, request: Request, services: Svc) -> Response:
    """One request type's attributes."""
    code, form = _split(name)
    _read_limit(services, request)
    _jurisdiction(services.city, request.query_params.get("jurisdiction_id"))
    service = catalog(services.city).service(code)
    if service is None:
        raise Open311Failure(404, f"no service {code[:40]!r} (GET services.json lists them)", "service_code")
    attributes = [
        {
            "variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
            "datatype_description": a.datatype_description or None, "order": a.order,
            "description": a.description, "values": [{"key": v.key, "name": v.name} for v in a.values],
        }
        for a in sorted(service.attributes, key=lambda a: a.order)
    ]  # fmt: skip
    return respond(
        form, {"service_code": service.service_code, "attributes": attributes}, "service_definition"
    )


async def _items(request: Request) -> list[tuple[str, Any]]:
    """The POST's parameters as (name, value) pairs: form-encoded as the spec has it, or a JSON object."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        try:
            form = await request.form()
        except (HTTPException, ValueError) as exc:  # a multipart body without its boundary, say
            raise Open311Failure(400, "send application/x-www-form-urlencoded (or JSON)", "body") from exc
        return list(form.multi_items())
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Open311Failure(400, "not a JSON object", "body") from exc
    if not isinstance(body, dict):
        raise Open311Failure(400, "not a JSON object", "body")
    items: list[tuple[str, Any]] = []
    for key, value in body.items():
        if key == "attribute" and isinstance(value, dict):
            items += [(f"attribute[{k}][]", v) for k, v in value.items()]
        else:
            items.append((str(key), value))
    return items


async def _parameters(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The POST's plain parameters, and its attributes by code (every value a text)."""
    plain: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    items = await _items(request)
    for key, raw in items:
        if isinstance(raw, UploadFile):
            raise Open311Failure(400, "files are not accepted: send media_url", key)
        values = raw if isinstance(raw, list) else [raw]
        if any(isinstance(v, dict | list) for v in values):
            raise Open311Failure(400, "a text or a number", key)
        texts = ["" if v is None else str(v).replace("\x00", "") for v in values]
        if match := _ATTRIBUTE.match(key):
            attributes.setdefault(match.group(1), []).extend(texts)
        elif texts:
            plain[key] = texts[-1]
    return plain, attributes


def _client(services: Services, plain: dict[str, str], request: Request) -> str:
    key = plain.get("api_key") or request.query_params.get("api_key") or ""
    client = ApiKeys(services.engine).client_for(key) if key else None
    if client is None:
        raise Open311Failure(403, "not provided or not valid (a client app's key from the city)", "api_key")
    return client


@router.post("/requests.{fmt}")
async def create_request(fmt: str, request: Request, services: Svc) -> Response:
    """File a service request: a work order (state 上报) in the same store as every other report."""
    form = _format(fmt)
    _read_limit(services, request)
    plain, attributes = await _parameters(request)
    client = await asyncio.to_thread(_client, services, plain, request)
    if wait := services.open311_post_limiter.hit(client):
        raise Open311Failure(
            429, f"too many requests from this client app: retry in {wait:.0f} s", None,
            {"Retry-After": str(max(1, int(wait + 0.999)))},
        )  # fmt: skip
    city = services.city
    _jurisdiction(city, plain.get("jurisdiction_id"))
    code = plain.get("service_code", "").strip()
    if not code:
        raise Open311Failure(400, "required (GET services.json lists them)", "service_code")
    service = catalog(city).service(code)
    if service is None:
        raise Open311Failure(400, f"no service {code[:40]!r} (GET services.json lists them)", "service_code")
    submission = Submission(
        service_code=code, client=client, description=plain.get("description", ""),
        address_string=plain.get("address_string", ""), address_id=plain.get("address_id", ""),
        lat=plain.get("lat", "").strip(), long=plain.get("long", "").strip(), phone=plain.get("phone", ""),
        media_url=plain.get("media_url", ""), attributes=attributes,
        idempotency_key=request.headers.get("idempotency-key", ""),
    )  # fmt: skip
    new, details = intake(submission, service, services.gazetteer)
    store, records = services.store, Open311Records(services.engine)
    try:
        order, created = await asyncio.to_thread(store.create, new, f"open311:{client}")
    except IdempotencyConflictError as exc:
        raise Open311Failure(409, "already used for another request", "Idempotency-Key") from exc
    kept = await asyncio.to_thread(records.keep, order.ticket, details)
    logger.info("open311 request %s from %s (%s)", order.ticket, client, "new" if created else "replayed")
    body = [
        {
            "service_request_id": order.ticket,
            "token": kept.token,
            "service_notice": f"已转{city.hotline_name}受理，工单号 {order.ticket}",
            "account_id": None,
        }
    ]
    return respond(form, body, "service_requests", 201 if created else 200)


def _dates(params: dict[str, str]) -> tuple[datetime, datetime]:
    parsed: dict[str, datetime] = {}
    for name in ("start_date", "end_date"):
        value = params.get(name, "").strip()
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
            if moment.tzinfo is None:
                raise Open311Failure(400, "needs its time zone (Z or an offset like +08:00)", name)
            moment = moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise Open311Failure(400, "a w3c datetime like 2026-12-01T00:00:00+08:00", name) from exc
        if not EARLIEST <= moment <= LATEST:
            raise Open311Failure(400, f"between {EARLIEST:%Y} and {LATEST:%Y}", name)
        parsed[name] = moment
    start, end = parsed.get("start_date"), parsed.get("end_date")
    if start is None and end is None:
        end = datetime.now(UTC)
    if start is None:
        assert end is not None
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if start > end:
        raise Open311Failure(400, "is after end_date", "start_date")
    if end - start > WINDOW:
        raise Open311Failure(400, "start_date to end_date may span 90 days at most", "end_date")
    return start, end


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


@router.get("/requests.{fmt}")
async def list_requests(fmt: str, request: Request, services: Svc) -> Response:
    """Requests, newest first: by ids (then nothing else counts), or service codes, dates and status."""
    form = _format(fmt)
    _read_limit(services, request)
    params = dict(request.query_params)
    city = services.city
    _jurisdiction(city, params.get("jurisdiction_id"))
    offered = catalog(city)
    records = Open311Records(services.engine)
    ids = _list(params.get("service_request_id", ""))
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Failure(400, f"at most {MAX_IDS} ids", "service_request_id")
        found = await asyncio.to_thread(records.find, tickets=ids)
        return respond(form, [request_view(o, d, city) for o, d in found], "service_requests")
    codes = _list(params.get("service_code", "")) or None
    for code in codes or []:
        if offered.service(code) is None:
            raise Open311Failure(
                400, f"no service {code[:40]!r} (GET services.json lists them)", "service_code"
            )
    statuses = _list(params.get("status", "").lower())
    wrong = [s for s in statuses if s not in ("open", "closed")]
    if wrong:
        raise Open311Failure(400, f"{wrong[0][:20]!r}: open or closed", "status")
    states = None
    if statuses and set(statuses) != {"open", "closed"}:
        states = [s.value for s in State if (s in CLOSED) == (statuses[0] == "closed")]
    start, end = _dates(params)
    categories = [s.category for s in offered.services if codes and s.service_code in codes]
    found = await asyncio.to_thread(
        records.find, codes=codes, categories=categories, states=states, start=start, end=end,
        limit=MAX_RESULTS,
    )  # fmt: skip
    return respond(form, [request_view(o, d, city) for o, d in found], "service_requests")


@router.get("/requests/{name}")
async def get_request(name: str, request: Request, services: Svc) -> Response:
    """One request by its id (the work order's ticket)."""
    ticket, form = _split(name)
    _read_limit(services, request)
    _jurisdiction(services.city, request.query_params.get("jurisdiction_id"))
    found = await asyncio.to_thread(Open311Records(services.engine).find, tickets=[ticket], limit=1)
    if not found:
        raise Open311Failure(404, f"no request {ticket[:40]!r}", "service_request_id")
    return respond(form, [request_view(*found[0], services.city)], "service_requests")


@router.get("/tokens/{name}")
async def get_token(name: str, request: Request, services: Svc) -> Response:
    """The request a token (returned when it was filed) stands for."""
    token, form = _split(name)
    _read_limit(services, request)
    ticket = await asyncio.to_thread(Open311Records(services.engine).ticket_for_token, token)
    if ticket is None:
        raise Open311Failure(404, "no request has this token", "token")
    return respond(form, [{"service_request_id": ticket, "token": token}], "service_requests")
