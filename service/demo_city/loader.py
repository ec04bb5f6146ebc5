"""``cityagent demo load``: put 示例市 into a fresh installation (idempotent; re-running changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.ingest import Ingestor, IngestReport
from knowledge.registry import DocumentRegistry
from service.container import Services
from service.demo_city import DOCUMENTS_DIR, ENTERPRISES_CSV, WORK_ORDERS_CSV
from tools.csvio import ImportReport
from tools.db import migrate
from tools.dispatch import DispatchHistory
from tools.enterprises import EnterpriseRegistry


@dataclass
class DemoLoadReport:
    """What the demo load did, per part."""

    documents: IngestReport
    enterprises: ImportReport
    history: ImportReport

    def summary(self) -> str:
        """A few lines for the terminal."""
        return "\n".join(
            [
                f"policy documents: {self.documents.summary()}",
                self.enterprises.summary(),
                self.history.summary(),
            ]
        )


def load_demo_city(services: Services) -> DemoLoadReport:
    """Migrate the database, ingest the documents, import enterprises and order history."""
    migrate(services.engine)
    ingestor = Ingestor(services.index, DocumentRegistry(services.engine), services.embedder)
    documents = ingestor.ingest_paths([DOCUMENTS_DIR])
    enterprises = EnterpriseRegistry(services.engine).import_csv(ENTERPRISES_CSV)
    history = DispatchHistory(services.engine).import_csv(WORK_ORDERS_CSV)
    return DemoLoadReport(documents, enterprises, history)
