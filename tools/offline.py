"""Offline by construction: switch off every library's reach for the network.

Each switch comes from ../shared/STACK.md ("Things that reach for the network").
:func:`apply` only *sets defaults*: a value the operator already exported wins, so
an installation that does have a hub mirror can still opt in. It must run before
transformers, sentence-transformers, ragas, nltk or tiktoken are imported, which is
why every cityagent package calls it from its ``__init__``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_FIXED = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "RAGAS_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def _llama_index_static() -> Path | None:
    """Find llama-index's bundled caches without importing llama-index."""
    spec = importlib.util.find_spec("llama_index")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        static = Path(location) / "core" / "_static"
        if static.is_dir():
            return static
    return None


def apply() -> None:
    """Set the offline switches (idempotent; an existing value is kept)."""
    for key, value in _FIXED.items():
        os.environ.setdefault(key, value)
    static = _llama_index_static()
    if static is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(static / "tiktoken_cache"))
        os.environ.setdefault("NLTK_DATA", str(static / "nltk_cache"))
