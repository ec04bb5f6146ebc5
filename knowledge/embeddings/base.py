"""The embedding interface every backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors; passages and queries may be prefixed differently."""

    name: str

    @property
    def dim(self) -> int:
        """Vector width."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages in batches: shape ``(len(texts), dim)``."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query: shape ``(dim,)``."""
        ...


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most ``size`` texts."""
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def normalise(vectors: npt.ArrayLike) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def first_row(vectors: Vectors) -> Vectors:
    """Row 0 of a 2-D array, as a 1-D vector."""
    row: Vectors = vectors[0]
    return row


def empty(dim: int) -> Vectors:
    """A ``(0, dim)`` array, for an empty batch."""
    return np.zeros((0, dim), dtype=np.float32)
