"""A GeoReport v2 ``POST requests`` checked and turned into a work order, before anything is stored.

Every parameter is data: it is checked for its form (length, number range, list key, URL scheme)
and stored through the work-order store, which masks personal data in the texts. Nothing here
reads a parameter as a path, a query or an instruction.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from tools.citypack.models import Service, ServiceAttribute
from tools.dispatch.location import Gazetteer, extract_location
from tools.open311.errors import InvalidRequestError
from tools.open311.records import Details
from tools.privacy import mask_pii
from tools.work_orders import NewWorkOrder

MAX_DESCRIPTION = 4000  # GeoReport v2: description may be up to 4,000 characters
MAX_ADDRESS = 300
MAX_URL = 500
MAX_VALUE = 500
_PHONE = re.compile(r"^\+?[\d\- ]{7,20}$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Submission:
    """The parameters of one ``POST requests`` (strings as sent; attributes by code, each a list)."""

    service_code: str
    client: str
    description: str = ""
    address_string: str = ""
    address_id: str = ""
    lat: str = ""
    long: str = ""
    phone: str = ""
    media_url: str = ""
    attributes: dict[str, list[str]] | None = None
    idempotency_key: str = ""


def _coordinate(value: str, name: str, bound: float) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise InvalidRequestError(name, f"{value[:40]!r} is not a number (decimal degrees, WGS84)") from exc
    if not math.isfinite(number) or abs(number) > bound:
        raise InvalidRequestError(name, f"must be between -{bound:g} and {bound:g}")
    return number


def _location(sub: Submission) -> tuple[float | None, float | None]:
    if sub.address_id and not (sub.address_string or sub.lat or sub.long):
        raise InvalidRequestError(
            "address_id", "address ids are not offered here: send address_string or lat/long"
        )
    if bool(sub.lat) != bool(sub.long):
        raise InvalidRequestError("lat" if not sub.lat else "long", "lat and long go together")
    if not sub.lat and not sub.address_string.strip():
        raise InvalidRequestError("address_string", "a location is required: address_string, or lat and long")
    if len(sub.address_string) > MAX_ADDRESS:
        raise InvalidRequestError("address_string", f"at most {MAX_ADDRESS} characters")
    if not sub.lat:
        return None, None
    return _coordinate(sub.lat, "lat", 90), _coordinate(sub.long, "long", 180)


def _attribute(attr: ServiceAttribute, values: list[str]) -> tuple[list[str], str]:
    """The checked values and how a caseworker reads them."""
    field = f"attribute[{attr.code}]"
    values = [v.strip() for v in values if v.strip()]
    if not values:
        if attr.required:
            raise InvalidRequestError(field, f"required ({attr.description})")
        return [], ""
    if any(len(v) > MAX_VALUE for v in values):
        raise InvalidRequestError(field, f"at most {MAX_VALUE} characters")
    if attr.datatype != "multivaluelist" and len(values) > 1:
        raise InvalidRequestError(field, "takes one value")
    if attr.datatype in ("singlevaluelist", "multivaluelist"):
        names = {v.key: v.name for v in attr.values}
        wrong = [v for v in values if v not in names]
        if wrong:
            keys = ", ".join(names)
            raise InvalidRequestError(field, f"{wrong[0][:40]!r} is not one of its keys ({keys})")
        return values, "、".join(names[v] for v in values)
    if attr.datatype == "number" and not _NUMBER.match(values[0]):
        raise InvalidRequestError(field, f"{values[0][:40]!r} is not a number")
    if attr.datatype == "datetime":
        try:
            datetime.fromisoformat(values[0].replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidRequestError(field, "a date and time like 2026-12-02T08:30:00+08:00") from exc
    return values, values[0]


def _attributes(service: Service, sent: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[str]]:
    known = {a.code for a in service.attributes}
    unknown = sorted(set(sent) - known)
    if unknown:
        codes = ", ".join(sorted(known)) or "none"
        raise InvalidRequestError(
            f"attribute[{unknown[0][:40]}]", f"service {service.service_code} has no such attribute ({codes})"
        )
    checked: dict[str, list[str]] = {}
    lines: list[str] = []
    for attr in sorted(service.attributes, key=lambda a: a.order):
        values, shown = _attribute(attr, sent.get(attr.code, []))
        if values:
            checked[attr.code] = [mask_pii(v) for v in values]
            lines.append(f"{attr.description}：{shown}")
    return checked, lines


def _client_key(client: str, key: str) -> str:
    """The store's idempotency key: one client app's ``Idempotency-Key`` never meets another's."""
    return "open311:" + hashlib.sha256(f"{client}\n{key}".encode()).hexdigest()[:48]


def intake(sub: Submission, service: Service, gazetteer: Gazetteer | None) -> tuple[NewWorkOrder, Details]:
    """The work order to create and the Open311 details to keep; :class:`InvalidRequestError` otherwise."""
    lat, long = _location(sub)
    description = sub.description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidRequestError("description", f"at most {MAX_DESCRIPTION} characters")
    phone = sub.phone.strip()
    if phone and not _PHONE.match(phone):
        raise InvalidRequestError(
            "phone", "a call-back number of 7-20 digits (spaces, '-' and a leading '+')"
        )
    media = sub.media_url.strip()
    if media and (len(media) > MAX_URL or not re.match(r"^https?://[^\s<>\"']+$", media)):
        raise InvalidRequestError("media_url", f"an http(s) URL of at most {MAX_URL} characters")
    key = sub.idempotency_key.strip()
    if key and not 8 <= len(key) <= 80:
        raise InvalidRequestError("Idempotency-Key", "8-80 characters")
    attributes, lines = _attributes(service, sub.attributes or {})
    address = sub.address_string.strip() or f"{lat:.6f},{long:.6f}"
    text = description if len(description) >= 2 else f"{service.service_name} {description}".strip()
    if lines:
        text = f"{text}\n" + "；".join(lines)
    place = extract_location(f"{sub.address_string} {description}", gazetteer)
    try:
        order = NewWorkOrder(
            text=text[:5000],
            title=service.service_name,
            address=address[:MAX_ADDRESS],
            district=place.district[:64],
            street=place.street[:64],
            category=service.category,
            channel="open311",
            contact_phone=phone or None,
            client_key=_client_key(sub.client, key) if key else None,
        )
    except ValidationError as exc:  # the checks above should leave nothing for the store's own to find
        first = exc.errors()[0]
        where = {"text": "description", "address": "address_string", "contact_phone": "phone"}
        name = str(first["loc"][0]) if first["loc"] else "body"
        raise InvalidRequestError(where.get(name, name), str(first["msg"])) from exc
    details = Details(
        service_code=service.service_code, client=sub.client, lat=lat, long=long,
        media_url=media or None, attributes=attributes,
    )  # fmt: skip
    return order, details
