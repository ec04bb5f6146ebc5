"""``cityagent demo load``: the shipped demo city pack, loaded like any other city's (idempotent)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from knowledge.ingest import Ingestor, IngestReport
from knowledge.registry import DocumentRegistry
from service.container import Services
from service.demo_city import DEMO_DIR, DOCUMENTS_DIR, ENTERPRISES_CSV, WORK_ORDERS_CSV
from tools.csvio import ImportReport
from tools.db import migrate
from tools.dispatch import DispatchHistory
from tools.dispatch.duties import DutyTable
from tools.dispatch.history import read_history
from tools.dispatch.model import DispatchModel, TrainingOrder, load_model
from tools.enterprises import EnterpriseRegistry
from tools.subsidies.rules import load_rules
from tools.subsidies.store import RuleStore
from tools.users import UserStore


@dataclass
class DemoLoadReport:
    """What the demo load did, per part."""

    documents: IngestReport
    enterprises: ImportReport
    history: ImportReport
    dispatch_model: str = ""
    staff: str = ""
    rules: str = ""

    def summary(self) -> str:
        """A few lines for the terminal."""
        return "\n".join(
            [
                f"policy documents: {self.documents.summary()}",
                self.enterprises.summary(),
                self.history.summary(),
                f"dispatch model: {self.dispatch_model}",
                f"staff: {self.staff}",
                f"subsidy rules: {self.rules}",
            ]
        )


def load_demo_city(services: Services) -> DemoLoadReport:
    """Migrate the database, ingest the documents, import enterprises and order history."""
    migrate(services.engine)
    ingestor = Ingestor(services.index, DocumentRegistry(services.engine), services.embedder)
    documents = ingestor.ingest_paths([DOCUMENTS_DIR])
    enterprises = EnterpriseRegistry(services.engine).import_csv(ENTERPRISES_CSV)
    history = DispatchHistory(services.engine).import_csv(WORK_ORDERS_CSV)
    return DemoLoadReport(
        documents,
        enterprises,
        history,
        train_dispatch_model(services),
        _demo_staff(services),
        _demo_rules(services),
    )


def _demo_rules(services: Services) -> str:
    """The demo policies' hand-written rules, stored and approved, unless rules are already active."""
    store = RuleStore(services.engine)
    if store.active():
        return "kept the active rules"
    rules = load_rules(DEMO_DIR / "rules")
    for rule in rules:
        draft = store.save_draft(rule, "demo-pack")  # the pack's author; loading approves it
        store.approve(draft.id, draft.version, "demo-load")
    return f"{len(rules)} rules stored and approved"


DEMO_STAFF = (("demo-caseworker", ["caseworker"]), ("demo-admin", ["admin"]))


def _demo_staff(services: Services) -> str:
    """Demo accounts with random passwords, written to ``data_dir/demo-staff.txt`` (owner-only)."""
    store = UserStore(services.engine)
    credentials = services.settings.data_dir / "demo-staff.txt"
    missing = [(name, roles) for name, roles in DEMO_STAFF if store.get(name) is None]
    if not missing:
        return f"kept (passwords in {credentials})"
    lines = []
    for name, roles in missing:
        password = secrets.token_urlsafe(12)
        store.add(name, password, roles)
        lines.append(f"{name}\t{password}\t{','.join(roles)}\n")
    with credentials.open("a", encoding="utf-8") as out:
        out.writelines(lines)
    credentials.chmod(0o600)
    return (
        f"{', '.join(n for n, _ in missing)} created; sign in at /console with the passwords in {credentials}"
    )


def train_dispatch_model(services: Services) -> str:
    """Train the dispatch model on the demo history, unless a model is already current."""
    models = services.settings.data_dir / "dispatch"
    try:
        current = load_model(models)
    except (FileNotFoundError, ValueError):
        current = None  # none yet, or one of an older format: train a new version
    if current is not None:
        return f"kept {current.info.version}"
    rows, _ = read_history(WORK_ORDERS_CSV)
    table = DutyTable.from_document(DOCUMENTS_DIR / "23-12345热线派单目录及部门权责清单.md")
    model = DispatchModel(table).fit(
        [TrainingOrder.from_history_row(r) for r in rows], source=str(WORK_ORDERS_CSV)
    )
    model.save(models)
    return f"trained {model.info.version} on {model.info.orders} orders in {model.info.seconds}s"
