"""Intervals for evaluation figures: Wilson for shares, the bootstrap for graded means and
paired differences, nearest-rank percentiles. All at 95% unless told; bootstrap resamples use
a fixed seed, so the same results give the same figures."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["Z95", "bootstrap_mean", "is_binary", "mean_interval", "percentile", "wilson"]

Z95 = 1.959963984540054
_RESAMPLES = 4000


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a share (``successes`` may be fractional, e.g. ties as 0.5)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return (low, high)


def bootstrap_mean(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean (of scores, or of paired differences)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1 or float(data.min()) == float(data.max()):
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(_RESAMPLES)
    for start in range(0, _RESAMPLES, 500):  # bounded memory for large sets
        stop = min(_RESAMPLES, start + 500)
        picks = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[picks].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return (float(low), float(high))


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def mean_interval(values: Sequence[float]) -> tuple[float, tuple[float, float], str]:
    """The mean, its 95% interval and the interval's name: Wilson for 0/1 scores, else the
    bootstrap."""
    if not values:
        return (math.nan, (math.nan, math.nan), "none")
    mean = sum(values) / len(values)
    if is_binary(values):
        return (mean, wilson(sum(values), len(values)), "wilson")
    return (mean, bootstrap_mean(values), "bootstrap")


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the ceil(p/100 * n)-th smallest (as the request-log reports)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
