"""The city the service runs for: what a loaded pack leaves in the data dir, read back by the service.

``city load`` writes ``DATA_DIR/city/city.json`` (the checked city, hotline and gazetteer files)
and a copy of the 权责清单 (``duties.md``); every process reads them with :func:`loaded_city`.
Without a loaded pack the service runs as :func:`unnamed_city`: generic words, no gazetteer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.citypack.models import CityFile, GazetteerFile, HotlineFile, ServicesFile
from tools.citypack.pack import CityPack, to_gazetteer
from tools.dispatch.location import Gazetteer
from tools.work_orders.deadlines import DEFAULT_RULES, HotlineRules

FOLDER = "city"


@dataclass(frozen=True)
class City:
    """Names and rules of the city, as prompts, replies, pages and the work-order store use them."""

    name: str
    assistant: str
    hotline: str
    hotline_name: str
    ticket_prefix: str
    timezone: str
    region: str
    rules: HotlineRules = DEFAULT_RULES
    gazetteer: Gazetteer | None = None
    duty_list: Path | None = field(default=None, compare=False)
    loaded: bool = True
    services: ServicesFile | None = field(default=None, compare=False)  # Open311 request types
    # what each work-order state means to a resident, in the city's words (hotline.yaml ``states``)
    state_words: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def ticket_example(self) -> str:
        """A ticket number of this city's form, for replies that show one."""
        return f"{self.ticket_prefix}20260101000042"


def unnamed_city() -> City:
    """The words used before any pack is loaded (no city name is invented)."""
    return City("本市", "政务服务助手", "12345", "12345政务服务便民热线", "SL", "UTC", "", loaded=False)


def city_from_files(
    city: CityFile,
    hotline: HotlineFile,
    gazetteer: GazetteerFile,
    duty_list: Path | None,
    services: ServicesFile | None = None,
) -> City:
    """The runtime city from its checked files."""
    return City(
        name=city.name, assistant=city.assistant or city.name, hotline=city.hotline,
        hotline_name=city.hotline_name or city.hotline, ticket_prefix=city.ticket_prefix,
        timezone=city.timezone, region=city.region, rules=hotline.rules(city.timezone),
        gazetteer=to_gazetteer(gazetteer) if gazetteer.districts else None, duty_list=duty_list,
        services=services, state_words=dict(hotline.states),
    )  # fmt: skip


def _snapshot(pack: CityPack) -> dict[str, Any]:
    return {
        "city": pack.city.model_dump(mode="json"),
        # a pack that words no state leaves a snapshot the previous release still reads
        "hotline": pack.hotline.model_dump(mode="json", exclude=None if pack.hotline.states else {"states"}),
        "gazetteer": pack.gazetteer.model_dump(mode="json"),
        "pack": str(pack.root.resolve()),
        "services": pack.services.model_dump(mode="json") if pack.services else None,
    }


def _write_if_changed(path: Path, content: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return False
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)  # readers see the old or the new file, never half of one
    return True


def save_city(pack: CityPack, data_dir: Path) -> bool:
    """Make ``pack`` the data dir's city; False when it already was (nothing written)."""
    folder = data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = json.dumps(_snapshot(pack), ensure_ascii=False, indent=1, sort_keys=True)
    duties = _write_if_changed(folder / "duties.md", pack.duty_list.read_text(encoding="utf-8"))
    return _write_if_changed(folder / "city.json", snapshot) or duties


def loaded_city(data_dir: Path) -> City | None:
    """The city loaded into ``data_dir`` (None before ``city load``); ``ValueError`` when the file is bad."""
    path = data_dir / FOLDER / "city.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = (
            CityFile.model_validate(data["city"]),
            HotlineFile.model_validate(data["hotline"]),
            GazetteerFile.model_validate(data["gazetteer"]),
        )
        services = ServicesFile.model_validate(data["services"]) if data.get("services") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a loaded city ({exc}); run `cityagent city load DIR` again") from exc
    duties = data_dir / FOLDER / "duties.md"
    return city_from_files(*files, duties if duties.is_file() else None, services)


def city_of(pack: CityPack) -> City:
    """The runtime city of a checked pack (before or without loading it)."""
    return city_from_files(pack.city, pack.hotline, pack.gazetteer, pack.duty_list, pack.services)
