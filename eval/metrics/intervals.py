"""Bootstrap confidence intervals, so two runs are compared honestly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean and its percentile-bootstrap interval."""

    mean: float
    low: float
    high: float
    level: float


def bootstrap_mean(
    values: Sequence[float], *, level: float = 0.95, samples: int = 2000, seed: int = 0
) -> Interval:
    """Mean with a percentile bootstrap interval (the caller drops NaNs and reports how many)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values")
    if np.isnan(data).any():
        raise ValueError("NaN among the values: drop them and report how many")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(samples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return Interval(
        float(data.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail)), level
    )


@dataclass(frozen=True)
class Difference:
    """Run B minus run A on the same items: mean difference, its interval, and a two-sided p-value."""

    mean: float
    low: float
    high: float
    p_value: float


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, level: float = 0.95, samples: int = 2000, seed: int = 0
) -> Difference:
    """Paired bootstrap of ``b - a`` (item i of both runs is the same question)."""
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.shape != second.shape or first.size == 0:
        raise ValueError("the two runs must score the same non-empty list of items")
    diff = second - first
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    # two-sided: how often the resampled difference falls on the other side of zero
    p = 2 * min(float((means <= 0).mean()), float((means >= 0).mean()))
    return Difference(
        float(diff.mean()),
        float(np.percentile(means, tail)),
        float(np.percentile(means, 100 - tail)),
        min(1.0, p),
    )
