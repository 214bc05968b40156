"""Choosing a router's threshold from data: for a target quality or a target strong-call share.

Calibrate on prompts the router did not train on when you can: on its own training data the
scores are overconfident, so the quality promised there is higher than live traffic will see.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tiergate.evaluation._curve import exact_curve
from tiergate.evaluation._kfold import data_fingerprint
from tiergate.evaluation._progress import Progress, quiet
from tiergate.routing.learned import LearnedRouter, OutcomeData

_CHUNK = 512


def score_prompts(router: LearnedRouter, prompts: list[str], progress: Progress = quiet) -> Any:
    """``router.scores`` in chunks, so a long scoring pass can show its progress."""
    total = len(prompts)
    parts = []
    progress("scoring", 0, total)
    for start in range(0, total, _CHUNK):
        parts.append(router.scores(prompts[start : start + _CHUNK]))
        progress("scoring", min(start + _CHUNK, total), total)
    return np.concatenate(parts) if parts else np.zeros(0)


def _threshold_for_count(sorted_desc: np.ndarray[Any, Any], k: int) -> float:
    if k <= 0:
        return float(np.nextafter(sorted_desc[0], np.inf))
    return float(sorted_desc[min(k, sorted_desc.size) - 1])


def calibrate(
    router: LearnedRouter,
    data: OutcomeData,
    *,
    target_quality: float | None = None,
    strong_share: float | None = None,
    progress: Progress = quiet,
) -> tuple[LearnedRouter, dict[str, Any]]:
    """A copy of ``router`` with its threshold chosen on ``data``, and what was measured.

    ``target_quality`` is an absolute mean outcome (e.g. 0.78 = 78% correct); the smallest
    strong share reaching it on ``data`` wins. ``strong_share`` is in [0, 1].
    """
    if (target_quality is None) == (strong_share is None):
        raise ValueError("give exactly one of target_quality or strong_share")
    for model in (router.weak_model, router.strong_model):
        if model not in data.outcomes:
            raise ValueError(f"model {model!r} of the router is not in the calibration data")
    prompts = list(data.prompts)
    weak, strong = data.outcomes[router.weak_model], data.outcomes[router.strong_model]
    scores = score_prompts(router, prompts, progress)
    order = np.sort(scores)[::-1]
    n = scores.size
    if strong_share is not None:
        if not 0.0 <= strong_share <= 1.0:
            raise ValueError("strong share must lie in [0, 1]")
        threshold = _threshold_for_count(order, round(strong_share * n))
    else:
        assert target_quality is not None
        c = exact_curve(scores, weak, strong)
        reached = np.flatnonzero(c.quality >= target_quality - 1e-12)
        if reached.size == 0:
            best = float(c.quality.max())
            raise ValueError(
                f"quality {target_quality:.4f} is out of reach on this data "
                f"(the router's best is {best:.4f}; weak {c.weak_quality:.4f}, "
                f"strong {c.strong_quality:.4f})"
            )
        threshold = _threshold_for_count(order, round(float(c.share[reached[0]]) * n))
    chosen = scores >= threshold
    measured = {
        "by": "target_quality" if target_quality is not None else "strong_share",
        "target": target_quality if target_quality is not None else strong_share,
        "threshold": threshold,
        "strong_share": round(float(chosen.mean()), 4),
        "quality": round(float(np.where(chosen, strong, weak).mean()), 4),
        "weak_quality": round(float(weak.mean()), 4),
        "strong_quality": round(float(strong.mean()), 4),
        "n_prompts": n,
        "on_training_data": data_fingerprint(data) == router.header.get("training_data_sha256"),
        "overlap_with_training": router.overlap(prompts),
    }
    return router.with_threshold(threshold, measured), measured
