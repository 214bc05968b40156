"""Figures of an evaluation's scores: a mean with its 95% interval (Wilson for 0/1 scores,
the bootstrap for graded ones, both from ``tiergate/intervals.py``) and nearest-rank
percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tiergate.intervals import ANY_SHARE, bootstrap_mean, wilson

__all__ = ["is_binary", "mean_interval", "percentile"]


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def mean_interval(values: Sequence[float]) -> tuple[float, tuple[float, float], str]:
    """The mean, its 95% interval and the interval's name: Wilson for 0/1 scores, else the
    bootstrap."""
    if not values:
        return (math.nan, (math.nan, math.nan), "none")
    mean = sum(values) / len(values)
    if is_binary(values):
        return (mean, wilson(sum(values), len(values)) or ANY_SHARE, "wilson")
    return (mean, bootstrap_mean(values), "bootstrap")


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the ceil(p/100 * n)-th smallest (as the request-log reports)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
