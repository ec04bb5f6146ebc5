"""``cityagent demo load``: the shipped demo city pack, loaded like any other city's (idempotent)."""

from __future__ import annotations

import secrets

from service.city_loader import CityLoadReport, Fingerprints, load_city_pack
from service.city_loader import train_dispatch_model as train_pack_model
from service.container import Services
from service.demo_city import PACK_DIR
from tools.citypack import read_pack
from tools.users import UserStore


def load_demo_city(services: Services) -> CityLoadReport:
    """``city load`` of the demo pack, plus the demo's staff accounts."""
    report = load_city_pack(services, PACK_DIR)
    staff, created = _demo_staff(services)
    report.add("staff", staff, changed=created)
    return report


DEMO_STAFF = (
    ("demo-caseworker", ["caseworker"]),
    ("demo-admin", ["admin"]),
    ("demo-officer", ["policy_officer"]),
    ("demo-evaluator", ["evaluator"]),
)


def _demo_staff(services: Services) -> tuple[str, bool]:
    """Demo accounts with random passwords, written to ``data_dir/demo-staff.txt`` (owner-only)."""
    store = UserStore(services.engine)
    credentials = services.settings.data_dir / "demo-staff.txt"
    missing = [(name, roles) for name, roles in DEMO_STAFF if store.get(name) is None]
    if not missing:
        return f"kept (passwords in {credentials})", False
    lines = []
    for name, roles in missing:
        password = secrets.token_urlsafe(12)
        store.add(name, password, roles)
        lines.append(f"{name}\t{password}\t{','.join(roles)}\n")
    with credentials.open("a", encoding="utf-8") as out:
        out.writelines(lines)
    credentials.chmod(0o600)
    names = ", ".join(n for n, _ in missing)
    return f"{names} created; sign in at /console with the passwords in {credentials}", True


def train_dispatch_model(services: Services) -> str:
    """Train the dispatch model on the demo pack's history, unless a model is already current."""
    pack = read_pack(PACK_DIR)
    line, _ = train_pack_model(services, pack, Fingerprints(services.settings.data_dir))
    return line
