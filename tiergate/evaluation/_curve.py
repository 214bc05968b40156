"""Quality-vs-strong-calls curves and the two numbers read off them: APGR and CPT.

A router's scores order the prompts (higher = send to the strong model). Sending the top
fraction ``x`` to the strong model gives quality ``q(x)`` = mean outcome of the chosen answers.
Two ways to draw that curve are in use, and they give different APGR on the same scores, so
every figure carries the name of the method that made it:

- ``exact``: one point per prompt (all n+1 cut points), tied scores merged into one straight
  segment (the expected curve of a random order inside the tie). Random routing scores exactly
  0.5 in expectation, the oracle scores the true maximum.
- ``decile``: RouteLLM's evaluation: thresholds at the 11 decile edges of the scores; a prompt
  goes strong when its score is ``>=`` the edge (``>`` for the top edge); the points are joined
  linearly. Coarser, and usually a little higher than the exact curve.

APGR = (area under q - weak quality * width) / ((strong - weak quality) * width), with the
width of the x-range the curve covers (1 for both methods on ordinary data).
CPT(p) = smallest strong-call fraction where the (piecewise-linear) curve reaches
weak + p * (strong - weak).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Method = Literal["exact", "decile"]
METHODS: tuple[Method, ...] = ("exact", "decile")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Curve:
    """Points (strong-call share in [0, 1], quality), sorted by share, joined linearly."""

    share: FloatArray
    quality: FloatArray
    weak_quality: float
    strong_quality: float
    method: Method


def _arrays(
    scores: ArrayLike, weak: ArrayLike, strong: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    s = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weak, dtype=np.float64)
    g = np.asarray(strong, dtype=np.float64)
    if not (s.shape == w.shape == g.shape) or s.ndim != 1 or s.size == 0:
        raise ValueError("scores, weak and strong outcomes must be 1-D arrays of the same length")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, w, g


def exact_curve(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> Curve:
    """The per-prompt curve; tied scores form one linear segment (order inside a tie is moot)."""
    s, w, g = _arrays(scores, weak, strong)
    n = s.size
    order = np.argsort(-s, kind="stable")
    gain = (g - w)[order]
    cum_gain = np.concatenate(([0.0], np.cumsum(gain)))
    sorted_scores = s[order]
    # Keep only the cut points between different scores (plus both ends).
    boundaries = np.flatnonzero(np.diff(sorted_scores) != 0) + 1
    cuts = np.concatenate(([0], boundaries, [n]))
    weak_q = float(w.mean())
    quality = weak_q + cum_gain[cuts] / n
    return Curve(cuts / n, quality, weak_q, float(g.mean()), "exact")


def decile_curve(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike, bins: int = 10) -> Curve:
    """RouteLLM's curve: ``bins + 1`` quantile edges of the scores as thresholds."""
    s, w, g = _arrays(scores, weak, strong)
    edges = np.quantile(s, np.linspace(0.0, 1.0, bins + 1))
    shares, quals = [], []
    for i, edge in enumerate(edges):
        chosen = s >= edge if i != len(edges) - 1 else s > edge
        shares.append(float(chosen.mean()))
        quals.append(float(np.where(chosen, g, w).mean()))
    share = np.asarray(shares)
    quality = np.asarray(quals)
    order = np.argsort(share, kind="stable")
    return Curve(share[order], quality[order], float(w.mean()), float(g.mean()), "decile")


def curve(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike, method: Method) -> Curve:
    """Dispatch on the method name, so callers can loop over ``METHODS``."""
    if method == "exact":
        return exact_curve(scores, weak, strong)
    if method == "decile":
        return decile_curve(scores, weak, strong)
    raise ValueError(f"unknown curve method {method!r}; use one of {METHODS}")


def _area(x: FloatArray, y: FloatArray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def apgr(c: Curve) -> float:
    """Average performance gap recovered; NaN when both models score the same."""
    width = float(c.share[-1] - c.share[0])
    gap = (c.strong_quality - c.weak_quality) * width
    if gap == 0.0:
        return float("nan")
    return (_area(c.share, c.quality) - c.weak_quality * width) / gap


def cpt(c: Curve, fraction: float) -> float:
    """Smallest strong-call share (0..1) whose quality reaches ``fraction`` of the gap.

    Walks the piecewise-linear curve from the left and interpolates inside the first segment
    that crosses the target; 1.0 (all calls) when the curve never reaches it.
    """
    target = c.weak_quality + fraction * (c.strong_quality - c.weak_quality)
    x, y = c.share, c.quality
    eps = 1e-12
    if y[0] >= target - eps:
        return float(x[0])
    for i in range(1, x.size):
        if y[i] >= target - eps:
            if y[i] == y[i - 1]:
                return float(x[i])
            t = (target - y[i - 1]) / (y[i] - y[i - 1])
            return float(x[i - 1] + min(max(t, 0.0), 1.0) * (x[i] - x[i - 1]))
    return 1.0
