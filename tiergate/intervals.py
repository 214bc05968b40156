"""95% confidence intervals, for judged pairs (reports, rollouts) and offline evaluations.

Rates (wins, ties, losses, pass rates) get Wilson score intervals: correct near 0 and 1 and for
small samples, where the normal approximation gives intervals outside [0, 1]. A figure built
from several counts (a ratio of pass rates, wins plus half the ties) gets a bootstrap interval;
the pairs are categorical, so resampling them is a multinomial draw over their counts, a few
thousand draws in one vectorised call whatever the number of pairs. A mean of graded scores
(or of paired differences) gets a bootstrap over the values themselves. Seeds are fixed: the
same data always give the same interval. numpy is imported only by the bootstraps, so the
store's reports that need Wilson alone do not load it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Z95 = 1.959963984540054
# A share's interval when nothing was measured: any share is possible.
ANY_SHARE = (0.0, 1.0)
_DRAWS = 4000
_SEED = 20240601


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / n`` (None without data). ``successes`` may
    be fractional (a tie counted as half a win); none or all of ``n`` give a bound of exactly
    0 or 1, which the formula misses by a rounding error."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


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


def bootstrap_mean(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean (of scores, or of paired differences): NaNs
    without values, the value itself when all are equal."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1 or float(data.min()) == float(data.max()):
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(_DRAWS)
    for start in range(0, _DRAWS, 500):  # bounded memory for large sets
        stop = min(_DRAWS, start + 500)
        picks = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[picks].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return (float(low), float(high))
