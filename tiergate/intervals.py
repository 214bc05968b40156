"""95% confidence intervals for rates and ratios measured on judged pairs.

Rates (wins, ties, losses, pass rates) get Wilson score intervals: correct near 0 and 1 and for
small samples, where the normal approximation gives intervals outside [0, 1]. A figure built
from several counts (a ratio of pass rates, wins plus half the ties) gets a bootstrap interval;
the pairs are categorical, so resampling them is a multinomial draw over their counts, a few
thousand draws in one vectorised call whatever the number of pairs. The seed is fixed: the same
counts always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Z95 = 1.959963984540054
_DRAWS = 4000
_SEED = 20240601


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / n`` (None without data)."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap(
    counts: Sequence[int], statistic: Callable[..., object]
) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles of ``statistic`` over multinomial resamples of
    ``counts`` (one column of resampled counts per category, as numpy arrays); draws where
    the statistic is undefined (NaN, a division by zero) are left out."""
    import numpy as np

    n = int(sum(counts))
    if n <= 0:
        return None
    rng = np.random.default_rng(_SEED)
    draws = rng.multinomial(n, [c / n for c in counts], size=_DRAWS).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(statistic(*draws.T), dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
