"""More than two models: quality against mean cost when each prompt goes to the cheapest model
predicted good enough (``LearnedRouter.choose``), over a sweep of thresholds.

Cost is put on the strong-call-share scale of the two-model curves: 0 = every prompt on the
cheapest model, 1 = every prompt on the strongest, so the area gives an APGR that reads like
the pair's (0.5 = random between those two ends). Model costs are per-call relative prices
in model order; the report says which were used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _choices(q: Mapping[str, FloatArray], models: Sequence[str], t: float) -> NDArray[np.int64]:
    top = q[models[-1]]
    chosen = np.full(top.size, len(models) - 1, dtype=np.int64)
    for i in range(len(models) - 2, -1, -1):
        chosen = np.where(top - q[models[i]] < t, i, chosen)
    return chosen


def choice_report(
    qualities: Mapping[str, FloatArray],
    outcomes: Mapping[str, FloatArray],
    models: Sequence[str],
    costs: Sequence[float],
    *,
    points: int = 101,
) -> dict[str, Any]:
    """The cost/quality curve over thresholds, its APGR, and a few operating points."""
    if len(costs) != len(models) or len(models) < 2:
        raise ValueError("give one cost per model, at least two models")
    price = np.asarray(costs, dtype=np.float64)
    if price[-1] <= price[0]:
        raise ValueError("the strongest model must cost more than the cheapest")
    top = qualities[models[-1]]
    gaps = np.concatenate([top - qualities[m] for m in models[:-1]])
    cuts = np.unique(
        np.concatenate(
            [np.quantile(gaps, np.linspace(0, 1, points)), [gaps.min() - 1.0, gaps.max() + 1.0]]
        )
    )
    stacked = np.vstack([outcomes[m] for m in models])
    rows = []
    for t in cuts:
        chosen = _choices(qualities, models, float(t))
        quality = float(stacked[chosen, np.arange(chosen.size)].mean())
        cost = float((price[chosen].mean() - price[0]) / (price[-1] - price[0]))
        shares = np.bincount(chosen, minlength=len(models)) / chosen.size
        rows.append((cost, quality, float(t), shares))
    rows.sort(key=lambda r: (r[0], -r[2]))
    x = np.asarray([r[0] for r in rows])
    y = np.asarray([r[1] for r in rows])
    weak_q, strong_q = float(outcomes[models[0]].mean()), float(outcomes[models[-1]].mean())
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    gap = strong_q - weak_q
    apgr = (area - weak_q) / gap if gap else float("nan")
    picks = []
    for target in (0.25, 0.5, 0.75):
        i = int(np.argmin(np.abs(x - target)))
        picks.append(
            {
                "cost_share": round(float(x[i]), 4),
                "quality": round(float(y[i]), 4),
                "threshold": round(rows[i][2], 6),
                "model_shares": {
                    m: round(float(s), 4) for m, s in zip(models, rows[i][3], strict=True)
                },
            }
        )
    return {
        "models": list(models),
        "costs": [float(c) for c in costs],
        "APGR_cost": round(apgr, 4),
        "model_quality": {m: round(float(outcomes[m].mean()), 4) for m in models},
        "points": picks,
    }
