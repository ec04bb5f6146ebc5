"""A data dir with the demo city's documents ingested (text + BM25; no dense vectors: fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.ingest import Ingestor
from knowledge.registry import DocumentRegistry
from service.container import build_services
from service.demo_city import DOCUMENTS_DIR
from service.settings import load_settings
from tools.db import migrate


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo documents, searchable by BM25 (dense vectors are not needed by these tests)."""
    path = tmp_path_factory.mktemp("demo")
    services = build_services(load_settings(data_dir=path, llm={"backend": "none"}))
    migrate(services.engine)
    Ingestor(services.index, DocumentRegistry(services.engine), services.embedder).ingest_paths(
        [DOCUMENTS_DIR], embed=False
    )
    services.index.close()
    services.engine.dispose()
    return path
