"""How the Open311 endpoint answers: GeoReport v2's JSON or XML, its error list, its view of an order.

The format is the path's extension (``services.json``, ``services.xml``). XML follows the spec's
examples: a root element per resource (``services``, ``service_definition``, ``service_requests``,
``errors``), one element per list item (``service``, ``attribute``, ``value``, ``request``, ``error``),
``true``/``false`` for booleans and an empty element for a missing value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Literal
from xml.sax.saxutils import escape

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tools.citypack import City
from tools.citypack.models import Service, ServicesFile
from tools.open311 import Details, InvalidRequestError
from tools.privacy import mask_pii
from tools.work_orders import State, WorkOrder

Format = Literal["json", "xml"]
CLOSED = frozenset({State.CLOSED, State.MERGED})
NOTES = {
    State.REPORTED: "已上报，等待受理",
    State.ACCEPTED: "已受理，等待派发",
    State.DISPATCHED: "已派发至承办单位",
    State.HANDLING: "承办单位正在处置",
    State.FEEDBACK: "已反馈处置结果，等待回访",
    State.CLOSED: "已办结",
    State.RETURNED: "承办单位退回，等待重新派发",
    State.MERGED: "与另一工单为同一诉求，已合并办理",
}
ITEMS = {"services": "service", "attributes": "attribute", "values": "value",
         "service_requests": "request", "errors": "error"}  # fmt: skip
_NOT_XML = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311ErrorItem(BaseModel):
    """One entry of GeoReport's error list (``field``: the parameter at fault, an addition to the spec)."""

    code: int
    description: str
    field: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": list[Open311ErrorItem], "description": meaning}
    for status, meaning in (
        (400, "a parameter is missing or wrong"),
        (403, "api_key missing, unknown or revoked"),
        (404, "no such service, request or token"),
        (409, "Idempotency-Key already used for another request"),
        (429, "rate limited (Retry-After)"),
    )
}


def _xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(_NOT_XML.sub("", str(value)))


def _element(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_element(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_element(ITEMS.get(tag, "item"), v) for v in value)
    else:
        inner = _xml_text(value)
    return f"<{tag}>{inner}</{tag}>"


def to_xml(root: str, body: Any) -> str:
    """``body`` as GeoReport XML under ``root`` (a list's items named by :data:`ITEMS`)."""
    return '<?xml version="1.0" encoding="utf-8"?>\n' + _element(root, body)


def respond(
    fmt: Format, body: Any, root: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``body`` in the asked format (``root`` names the XML root element)."""
    if fmt == "xml":
        return Response(
            to_xml(root, body), status_code=status, headers=headers, media_type="text/xml; charset=utf-8"
        )
    return JSONResponse(body, status_code=status, headers=headers)


class Open311Failure(Exception):
    """An answer in GeoReport's error format: ``[{"code": status, "description": …, "field": …}]``."""

    def __init__(
        self, status: int, description: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status, self.description, self.field, self.headers = status, description, field, headers or {}

    def response(self, fmt: Format = "json") -> Response:
        """The error list, in the format the path asked for."""
        text = f"{self.field}: {self.description}" if self.field else self.description
        body: dict[str, Any] = {"code": self.status, "description": text}
        if self.field:
            body["field"] = self.field
        return respond(fmt, [body], "errors", self.status, self.headers)


class Open311Route(APIRoute):
    """Routes whose failures answer in GeoReport's error list instead of the service's envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, with Open311 errors (and FastAPI's own validation) turned into the list."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt: Format = "xml" if request.url.path.endswith(".xml") else "json"
            try:
                return await handler(request)
            except InvalidRequestError as exc:
                return Open311Failure(400, exc.message, exc.field).response(fmt)
            except Open311Failure as exc:
                return exc.response(fmt)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
                failure = Open311Failure(400, str(first.get("msg", "invalid request")), where or None)
                return failure.response(fmt)

        return route


def _when(value: datetime | None, city: City) -> str | None:
    return city.rules.local(value).isoformat(timespec="seconds") if value else None


def catalog(city: City) -> ServicesFile:
    """The city's Open311 services (none without a ``services.yaml`` in its pack)."""
    return city.services or ServicesFile()


def _service_of(order: WorkOrder, details: Details | None, services: ServicesFile) -> Service | None:
    if details is not None:
        return services.service(details.service_code)
    return services.for_category(order.category)


def request_view(order: WorkOrder, details: Details | None, city: City) -> dict[str, Any]:
    """One service request as GeoReport v2 shows it (texts masked, whoever asks)."""
    service = _service_of(order, details, catalog(city))
    notes = NOTES[order.state]
    if order.state == State.CLOSED and order.rating:
        notes = f"{notes}（回访：{order.rating}）"
    return {
        "service_request_id": order.ticket,
        "status": "closed" if order.state in CLOSED else "open",
        "status_notes": notes,
        "service_name": service.service_name if service else order.category,
        "service_code": details.service_code if details else (service.service_code if service else None),
        "description": mask_pii(order.text),
        "agency_responsible": order.department,
        "service_notice": None,
        "requested_datetime": _when(order.created_at, city),
        "updated_datetime": _when(order.updated_at, city),
        "expected_datetime": _when(order.close_due, city),
        "address": mask_pii(order.address),
        "address_id": None,
        "zipcode": None,
        "lat": details.lat if details else None,
        "long": details.long if details else None,
        "media_url": details.media_url if details else None,
    }
