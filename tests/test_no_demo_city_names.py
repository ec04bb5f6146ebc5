"""The demo city's name is data: outside its pack (and tests, docs, frozen eval suites) it is nowhere."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "knowledge", "tools", "eval", "service")
ALLOWED = (
    ROOT / "service" / "demo_city" / "pack",  # the demo city's own facts
    ROOT / "eval" / "suites",  # frozen benchmark data written against the demo city
)
SOURCES = {".py", ".html", ".js", ".css", ".yaml", ".yml", ".md", ".json", ".toml", ".mako", ".txt", ".c"}


def test_no_demo_city_name_outside_the_demo_pack() -> None:
    hits = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if (
                not path.is_file()
                or path.suffix not in SOURCES
                or any(path.is_relative_to(a) for a in ALLOWED)
            ):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if "示例" in line:
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert hits == [], "the demo city's names belong in its pack:\n" + "\n".join(hits)
