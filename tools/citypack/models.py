"""One pydantic model per file of a city pack (what each key means is in ``cityagent city init``'s skeleton).

Every name here reaches prompts, replies, page titles and ticket numbers, so names are short
plain text: no line breaks, no markup or template characters.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.work_orders.deadlines import DeadlineRule, HotlineRules
from tools.work_orders.lifecycle import State, Urgency

_UNSAFE = re.compile(r"[\x00-\x1f\x7f{}<>`\\\"]")


def _plain(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if _UNSAFE.search(value):
        raise ValueError(f"{value!r}: no line breaks, quotes, braces, angle brackets or backslashes")
    return value


Name = Annotated[str, Field(max_length=40), AfterValidator(_plain)]
_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def _pack_path(value: str) -> str:
    path = PurePosixPath(value.strip())
    if not value.strip() or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{value!r}: a path inside the pack, like documents/权责清单.md")
    return str(path)


PackPath = Annotated[str, AfterValidator(_pack_path)]


class CityFile(BaseModel):
    """``city.yaml``: who the city is."""

    model_config = _STRICT

    name: Name
    assistant: Name | None = None
    hotline: str = Field(pattern=r"^\d{3,11}$")
    hotline_name: Name | None = None
    ticket_prefix: str = Field(pattern=r"^[A-Z]{1,6}$")
    timezone: str = "Asia/Shanghai"
    region: Name
    duty_list: PackPath
    data_year: int | None = Field(
        default=None,
        ge=1990,
        le=2100,
        description=(
            "For a demo pack: the year its enterprise data describe. Loaded in a later year, every year and "
            "date field of the data moves forward by the difference, so 上一年度 conditions hold on any day. "
            "A real city's pack leaves it unset: its data are what they say."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from exc
        return value

    @model_validator(mode="after")
    def _defaults(self) -> CityFile:
        self.assistant = self.assistant or f"{self.name}政务服务助手"
        self.hotline_name = self.hotline_name or f"{self.hotline}政务服务便民热线"
        return self


_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(分钟|min|m|小时|h|个工作日|工作日|workdays?|wd)\s*$", re.IGNORECASE
)


def _duration(value: str) -> tuple[float | None, int | None]:
    """``"30分钟"`` -> (0.5, None); ``"3个工作日"`` -> (None, 3)."""
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r}: write e.g. 30分钟, 2小时, 3个工作日 (or 30m, 2h, 3 workdays)")
    amount, unit = float(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise ValueError(f"{value!r}: must be more than zero")
    if unit in ("分钟", "min", "m"):
        return amount / 60, None
    if unit in ("小时", "h"):
        return amount, None
    if amount != int(amount):
        raise ValueError(f"{value!r}: working days are whole days")
    return None, int(amount)


class UrgencyRule(BaseModel):
    """How long one urgency level may take to be dispatched and closed."""

    model_config = _STRICT

    dispatch: str
    close: str
    meaning: str = ""

    @field_validator("dispatch", "close")
    @classmethod
    def _readable(cls, value: str) -> str:
        _duration(value)
        return value

    def rule(self) -> DeadlineRule:
        """As the work-order store uses it."""
        dh, dw = _duration(self.dispatch)
        ch, cw = _duration(self.close)
        return DeadlineRule(dispatch_hours=dh, dispatch_workdays=dw, close_hours=ch, close_workdays=cw)


class Calendar(BaseModel):
    """Which days are working days."""

    model_config = _STRICT

    weekend: list[Annotated[int, Field(ge=1, le=7)]] = Field(default_factory=lambda: [6, 7])
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list, description="weekend days worked (调休上班)")

    @model_validator(mode="after")
    def _disjoint(self) -> Calendar:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"{', '.join(map(str, both))}: both a holiday and a workday")
        return self


_Wording = Annotated[str, Field(max_length=60), AfterValidator(_plain)]  # a state told to a resident


class HotlineFile(BaseModel):
    """``hotline.yaml``: the hotline's deadlines, calendar, duplicate window, and how states are told.

    ``states``: what each state of the closed loop means to the resident who asks after an order
    (``派发: 已派发给承办单位``), in the city's own words; a state not named keeps the assistant's words.
    """

    model_config = _STRICT

    source: str = ""
    urgency: dict[str, UrgencyRule]
    calendar: Calendar = Field(default_factory=Calendar)
    duplicate_window_days: int = Field(default=7, ge=1, le=90)
    states: dict[str, _Wording] = Field(default_factory=dict)

    @field_validator("states")
    @classmethod
    def _known_states(cls, value: dict[str, str]) -> dict[str, str]:
        names = [s.value for s in State]
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"the states are {'、'.join(names)}; unknown: {'、'.join(unknown)}")
        return value

    @field_validator("urgency")
    @classmethod
    def _levels(cls, value: dict[str, UrgencyRule]) -> dict[str, UrgencyRule]:
        levels = [u.value for u in Urgency]
        unknown = [k for k in value if k not in levels]
        missing = [k for k in levels if k not in value]
        if unknown or missing:
            raise ValueError(
                f"the urgency levels are {'、'.join(levels)}"
                + (f"; unknown: {'、'.join(unknown)}" if unknown else "")
                + (f"; missing: {'、'.join(missing)}" if missing else "")
            )
        return value

    def rules(self, timezone: str) -> HotlineRules:
        """As the work-order store uses them, on the city's clock."""
        return HotlineRules(
            deadlines={Urgency(k): v.rule() for k, v in self.urgency.items()},
            holidays=frozenset(self.calendar.holidays),
            workdays=frozenset(self.calendar.workdays),
            weekend=frozenset(d - 1 for d in self.calendar.weekend),
            timezone=timezone,
            duplicate_window=timedelta(days=self.duplicate_window_days),
        )


class Street(BaseModel):
    """A street office's area (街道/镇): its communities and roads."""

    model_config = _STRICT

    aliases: list[Name] = Field(default_factory=list)
    communities: list[Name] = Field(default_factory=list)
    roads: list[Name] = Field(default_factory=list)


class District(BaseModel):
    """A district (区/县)."""

    model_config = _STRICT

    code: str = Field(default="", pattern=r"^(\d{6})?$")
    aliases: list[Name] = Field(default_factory=list)
    streets: dict[str, Street] = Field(default_factory=dict)


class GazetteerFile(BaseModel):
    """``gazetteer.yaml``: districts, their streets, communities, roads and aliases."""

    model_config = _STRICT

    districts: dict[str, District] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> GazetteerFile:
        seen: dict[str, str] = {}
        clashes = []
        for district, d in self.districts.items():
            names = [district, *d.streets]
            names += [c for s in d.streets.values() for c in s.communities]
            for name in names:
                if name in seen:
                    clashes.append(name)
                seen[name] = district
        if clashes:
            raise ValueError(f"named twice: {'、'.join(sorted(set(clashes)))}")
        return self


class OrderColumns(BaseModel):
    """Which column of the export holds what (``text`` and ``department`` are required)."""

    model_config = _STRICT

    text: Name
    department: Name
    title: Name | None = None
    address: Name | None = None
    category: Name | None = None
    urgency: Name | None = None
    order_id: Name | None = None
    created_at: Name | None = None


class OrdersFile(BaseModel):
    """``orders.yaml``: the past hotline orders the dispatch model learns from."""

    model_config = _STRICT

    file: PackPath
    columns: OrderColumns


Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]


class AttributeValue(BaseModel):
    """One choice of a list attribute: the key a client sends, the name a person reads."""

    model_config = _STRICT

    key: Code
    name: Name


class ServiceAttribute(BaseModel):
    """An extra question a service asks (Open311 GeoReport v2 service definition attribute)."""

    model_config = _STRICT

    code: Code
    datatype: Datatype = "string"
    description: str = Field(min_length=1, max_length=200)
    required: bool = False
    variable: bool = True
    order: int = Field(default=0, ge=0, le=1000)
    datatype_description: str = Field(default="", max_length=200)
    values: list[AttributeValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_for_lists(self) -> ServiceAttribute:
        listed = self.datatype in ("singlevaluelist", "multivaluelist")
        if listed and not self.values:
            raise ValueError(f"{self.code}: a {self.datatype} needs its values (key and name each)")
        if not listed and self.values:
            raise ValueError(f"{self.code}: only a singlevaluelist or multivaluelist has values")
        keys = [v.key for v in self.values]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.code}: value keys named twice")
        return self


class Service(BaseModel):
    """One kind of request residents' apps may file (Open311 ``service``), mapped to an order category."""

    model_config = _STRICT

    service_code: Code
    service_name: Annotated[str, Field(min_length=2, max_length=40), AfterValidator(_plain)]
    description: str = Field(default="", max_length=500)
    category: Name = Field(description="the work-order category an order of this service gets")
    group: Name | None = None
    keywords: list[Name] = Field(default_factory=list)
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    attributes: list[ServiceAttribute] = Field(default_factory=list)

    @field_validator("attributes")
    @classmethod
    def _unique_codes(cls, value: list[ServiceAttribute]) -> list[ServiceAttribute]:
        codes = [a.code for a in value]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"attribute codes named twice: {', '.join(twice)}")
        return value


class ServicesFile(BaseModel):
    """``services.yaml``: the request types offered over Open311 GeoReport v2 (optional file)."""

    model_config = _STRICT

    jurisdiction_id: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    services: list[Service] = Field(default_factory=list)

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: list[Service]) -> list[Service]:
        codes = [s.service_code for s in value]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"service codes named twice: {', '.join(twice)}")
        return value

    def service(self, code: str) -> Service | None:
        """The service with this code."""
        return next((s for s in self.services if s.service_code == code), None)

    def for_category(self, category: str) -> Service | None:
        """The first service whose orders get ``category`` (orders filed by phone or chat have no code)."""
        return next((s for s in self.services if s.category == category), None)
