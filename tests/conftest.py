"""Shared fixtures: no network but loopback, no CITYAGENT_* leaking in, settings on a temp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import netguard

netguard.install()

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CITYAGENT_* variable from the developer's shell reaches a test (and none is left behind)."""
    for key in list(os.environ):
        if key.startswith("CITYAGENT_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (tests that need it skip with a clear reason when it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
