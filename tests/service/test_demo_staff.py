"""The demo's staff accounts: one per role, so every page of the console can be tried after demo load."""

from __future__ import annotations

from pathlib import Path

from service.container import build_services
from service.demo_city.loader import _demo_staff
from service.settings import load_settings
from tools.db import migrate
from tools.users import UserStore


def test_demo_load_creates_an_account_for_every_role_once(tmp_path: Path) -> None:
    services = build_services(load_settings(data_dir=tmp_path, llm={"backend": "none"}))
    migrate(services.engine)
    try:
        line, created = _demo_staff(services)
        assert created and "demo-evaluator" in line
        users = UserStore(services.engine)
        expected = {
            "demo-caseworker": ["caseworker"],
            "demo-admin": ["admin"],
            "demo-officer": ["policy_officer"],
            "demo-evaluator": ["evaluator"],
        }
        assert {name: list(users.get(name).roles) for name in expected} == expected
        credentials = tmp_path / "demo-staff.txt"
        assert len(credentials.read_text(encoding="utf-8").splitlines()) == 4
        assert credentials.stat().st_mode & 0o077 == 0  # owner-only
        assert _demo_staff(services)[1] is False  # a second load keeps them
    finally:
        services.engine.dispose()
