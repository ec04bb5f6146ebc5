"""``cityagent city load DIR``: put a city pack into this installation (a second run changes nothing).

Each part is one function, so a part can be replaced without touching the others:
the city's names and rules (:func:`tools.citypack.save_city`), the documents, the enterprise data
(:func:`import_enterprises`), the past orders and the dispatch model, and the subsidy rules
(:func:`load_rules`). What was imported is fingerprinted in ``DATA_DIR/city/loaded.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from knowledge.ingest import IngestReport
from service.container import Services
from tools.citypack import CityPack, read_pack, save_city
from tools.citypack.city import FOLDER, city_of
from tools.citypack.pack import to_gazetteer
from tools.csvio import ImportReport
from tools.db import migrate
from tools.dispatch import DispatchHistory
from tools.dispatch.duties import DutyTable
from tools.dispatch.history import HistoryColumns, read_history
from tools.dispatch.model import DispatchModel, TrainingOrder, load_model
from tools.enterprises import EnterpriseRegistry
from tools.enterprises.dictionary import Dictionary, current_dictionary, load_dictionary, save_dictionary
from tools.subsidies.rules import load_rules as read_rules
from tools.subsidies.store import RuleStore


@dataclass
class CityLoadReport:
    """What loading did, part by part; ``changed`` is False when the pack was already loaded as it is."""

    city: str
    parts: list[tuple[str, str]] = field(default_factory=list)
    changed: bool = False
    documents: IngestReport | None = None

    def add(self, part: str, line: str, *, changed: bool) -> None:
        """One part's line."""
        self.parts.append((part, line))
        self.changed = self.changed or changed

    def summary(self) -> str:
        """A few lines for the terminal, ending with whether anything changed."""
        lines = [f"{part}: {line}" for part, line in self.parts]
        lines.append(
            f"{self.city} loaded"
            if self.changed
            else f"nothing changed: {self.city} was already loaded as it is"
        )
        return "\n".join(lines)


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


class Fingerprints:
    """What was imported from which bytes (``DATA_DIR/city/loaded.json``)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FOLDER / "loaded.json"
        self.values: dict[str, str] = json.loads(self.path.read_text("utf-8")) if self.path.is_file() else {}

    def same(self, key: str, value: str) -> bool:
        """Whether ``key`` was imported from exactly these bytes."""
        return self.values.get(key) == value

    def set(self, key: str, value: str) -> None:
        """Record that ``key`` was imported from these bytes."""
        self.values[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.values, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")


def load_city_pack(services: Services, root: Path) -> CityLoadReport:
    """Check the pack (nothing is loaded when it has a problem), then load every part of it."""
    pack = read_pack(root)
    migrate(services.engine)
    data_dir = services.settings.data_dir
    report = CityLoadReport(pack.city.name)
    changed = save_city(pack, data_dir)
    report.add("city", _describe(pack) + ("" if changed else " (unchanged)"), changed=changed)
    services.city = city_of(pack)  # this process uses it at once; others read it from the data dir
    if services.settings.dispatch.gazetteer_path is None:
        services.gazetteer = services.city.gazetteer
    services._retriever = None  # rebuilt with the city's jurisdiction on next use
    marks = Fingerprints(data_dir)
    documents = ingest_documents(services, pack)
    report.documents = documents
    report.add(
        "policy documents", documents.summary(), changed=bool(documents.documents or documents.removed)
    )
    for part, (line, did) in (
        ("enterprises", import_enterprises(services, pack, marks)),
        ("historical orders", import_history(services, pack, marks)),
        ("dispatch model", train_dispatch_model(services, pack, marks)),
        ("subsidy rules", load_rules(services, pack)),
    ):
        report.add(part, line, changed=did)
    return report


def _describe(pack: CityPack) -> str:
    city, hotline = pack.city, pack.hotline
    levels = "，".join(f"{k} 派发{v.dispatch}/办结{v.close}" for k, v in hotline.urgency.items())
    places = sum(len(d.streets) for d in pack.gazetteer.districts.values())
    return (
        f"{city.name} ({city.assistant}, hotline {city.hotline}, tickets {city.ticket_prefix}…, "
        f"{city.timezone}); "
        f"{levels}; {len(pack.gazetteer.districts)} districts, {places} streets"
    )


def ingest_documents(services: Services, pack: CityPack) -> IngestReport:
    """The pack's documents into the knowledge base (unchanged files are skipped)."""
    return services.ingestor().ingest_paths([pack.documents_dir])


def load_enterprises(services: Services, dictionary_file: Path, data_file: Path) -> ImportReport:
    """A city's enterprise data dictionary made the one in force, then one enterprise export imported."""
    dictionary = load_dictionary(dictionary_file)
    save_dictionary(services.engine, dictionary, str(dictionary_file))
    return EnterpriseRegistry(services.engine, dictionary).import_file(data_file)


def import_enterprises(services: Services, pack: CityPack, marks: Fingerprints) -> tuple[str, bool]:
    """The enterprise data dictionary, then every export of ``enterprises/`` through it.

    An export imported before under the same dictionary, byte for byte, is skipped.
    """
    files = pack.enterprise_files()
    if not pack.dictionary_file.is_file():
        return (
            "none in the pack" if not files else "not imported: the pack has no enterprise_fields.yaml"
        ), False
    dictionary = load_dictionary(pack.dictionary_file)
    changed = save_dictionary(services.engine, dictionary, str(pack.dictionary_file))
    lines = [f"enterprise data dictionary: {len(dictionary.fields)} fields" + (" (new)" if changed else "")]
    if not files:
        return "\n  ".join([*lines, "no enterprise exports"]), changed
    registry = EnterpriseRegistry(services.engine, dictionary)
    forward = max(0, date.today().year - pack.city.data_year) if pack.city.data_year else 0
    if forward:
        lines.append(
            f"the pack's data describe {pack.city.data_year}: years and dates moved {forward} forward"
        )
    for path in files:
        key, digest = f"enterprises:{path.name}", _digest(path, pack.dictionary_file) + f":+{forward}"
        if marks.same(key, digest) and registry.last_import():
            lines.append(f"{path.name}: unchanged")
            continue
        result = registry.import_file(path, years_forward=forward)
        marks.set(key, digest)
        lines.append(result.summary())
        changed = True
    return "\n  ".join(lines), changed


def _history_columns(pack: CityPack) -> HistoryColumns:
    assert pack.orders is not None
    return HistoryColumns(**pack.orders.columns.model_dump())


def import_history(services: Services, pack: CityPack, marks: Fingerprints) -> tuple[str, bool]:
    """The past orders (``orders.yaml``) into the dispatch history."""
    path = pack.orders_file
    if path is None or pack.orders is None:
        return "none in the pack (orders.yaml is empty)", False
    history = DispatchHistory(services.engine)
    digest = _digest(path, pack.root / "orders.yaml")
    if marks.same("orders", digest) and history.count():
        return f"{path.name}: unchanged", False
    result = history.import_csv(path, _history_columns(pack))
    marks.set("orders", digest)
    return result.summary(), True


def train_dispatch_model(services: Services, pack: CityPack, marks: Fingerprints) -> tuple[str, bool]:
    """Train the dispatch model on the pack's orders and duty list, unless the current one learnt them."""
    path = pack.orders_file
    if path is None:
        return "not trained (no past orders)", False
    models = services.settings.data_dir / "dispatch"
    digest = _digest(path, pack.root / "orders.yaml", pack.duty_list)
    try:
        current = load_model(models)
    except (FileNotFoundError, ValueError):
        current = None  # none yet, or one of an older format: train a new version
    if current is not None and marks.same("dispatch", digest):
        return f"kept {current.info.version}", False
    rows, _ = read_history(path, _history_columns(pack))
    # the city's gazetteer gives the model its district and street features (district-bound units)
    model = DispatchModel(
        DutyTable.from_document(pack.duty_list), gazetteer=to_gazetteer(pack.gazetteer)
    ).fit([TrainingOrder.from_history_row(r) for r in rows], source=str(path))
    model.save(models)
    marks.set("dispatch", digest)
    services._dispatch_model = None
    return f"trained {model.info.version} on {model.info.orders} orders in {model.info.seconds}s", True


def _dictionary(services: Services) -> Dictionary | None:
    try:
        return current_dictionary(services.engine)
    except LookupError:
        return None


def load_rules(services: Services, pack: CityPack) -> tuple[str, bool]:
    """The pack's subsidy rules, stored and approved, unless rules are already active."""
    if not pack.rule_files():
        return "none in the pack", False
    store = RuleStore(services.engine)
    if store.active():
        return "kept the active rules", False
    rules: list[Any] = read_rules(pack.rules_dir, _dictionary(services))
    for rule in rules:
        draft = store.save_draft(rule, "city-pack")  # the pack's author; loading approves it
        store.approve(draft.id, draft.version, "city-load")
    return f"{len(rules)} rules stored and approved", True
