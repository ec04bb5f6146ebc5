"""Data dirs with the demo city: documents (text + BM25, no dense vectors: fast), a dispatch model, staff."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.ingest import Ingestor
from knowledge.registry import DocumentRegistry
from service.city_loader import load_enterprises
from service.container import build_services
from service.demo_city import DEMO_DICTIONARY, DOCUMENTS_DIR, ENTERPRISES_CSV
from service.demo_city.loader import train_dispatch_model
from service.settings import load_settings
from tools.db import migrate
from tools.users import UserStore


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


PASSWORD = "correct-horse-battery"
STAFF = {
    "hotline": (["caseworker"], []),
    "water": (["caseworker"], ["示例市供水集团有限公司"]),
    "boss": (["admin"], []),
    "analyst": (["evaluator"], []),
    "officer": (["policy_officer"], []),
    "officer2": (["policy_officer"], []),  # a second officer approves what the first drafted
}


@pytest.fixture(scope="session")
def staffed_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo documents plus a trained dispatch model and staff accounts (password ``PASSWORD``)."""
    path = tmp_path_factory.mktemp("staffed") / "data"
    shutil.copytree(demo_dir, path)
    services = build_services(load_settings(data_dir=path, llm={"backend": "none"}))
    train_dispatch_model(services)
    load_enterprises(services, DEMO_DICTIONARY, ENTERPRISES_CSV)
    users = UserStore(services.engine)
    for name, (roles, departments) in STAFF.items():
        users.add(name, PASSWORD, roles, departments)
    services.engine.dispose()
    return path
