"""One evaluation summary: a router's APGR / CPT next to the random and oracle baselines.

The headline ``APGR`` is the exact per-prompt curve (the stricter method); the decile figure
is reported beside it for comparison with RouteLLM's published numbers. CPT is given in
percent of calls, as the command-line contract promises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tiergate.evaluation._curve import METHODS, Method, apgr, cpt, curve


def summarise(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> dict[str, float]:
    """APGR and CPT50/CPT80 (percent) by both methods, keys suffixed with the method."""
    out: dict[str, float] = {}
    for method in METHODS:
        c = curve(scores, weak, strong, method)
        out[f"APGR_{method}"] = round(apgr(c), 4)
        out[f"CPT50_{method}"] = round(100.0 * cpt(c, 0.5), 2)
        out[f"CPT80_{method}"] = round(100.0 * cpt(c, 0.8), 2)
    return out


def oracle_scores(weak: ArrayLike, strong: ArrayLike) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The best possible order: largest gain from the strong model first."""
    return np.asarray(strong, dtype=np.float64) - np.asarray(weak, dtype=np.float64)


def report(
    scores: ArrayLike,
    weak: ArrayLike,
    strong: ArrayLike,
    *,
    method: Method = "exact",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object ``tiergate router eval --json`` prints.

    Top-level ``APGR``/``CPT50``/``CPT80`` use ``method``; ``by_method`` holds both; random
    is the expected value of a random order (a flat score, i.e. one straight segment).
    """
    w = np.asarray(weak, dtype=np.float64)
    g = np.asarray(strong, dtype=np.float64)
    router = summarise(scores, w, g)
    result: dict[str, Any] = {
        "APGR": router[f"APGR_{method}"],
        "CPT50": router[f"CPT50_{method}"],
        "CPT80": router[f"CPT80_{method}"],
        "method": method,
        "cpt_unit": "percent of calls",
        "by_method": router,
        "baselines": {
            "random": summarise(np.zeros_like(w), w, g),
            "oracle": summarise(oracle_scores(w, g), w, g),
        },
        "n_prompts": int(w.size),
        "weak_quality": round(float(w.mean()), 4),
        "strong_quality": round(float(g.mean()), 4),
    }
    if extra:
        result.update(extra)
    return result
