"""k-fold cross-validation and training of learned routers on outcome data.

Out-of-fold scores are the honest way to measure a router on the data it learns from: every
prompt is scored by a router that never saw it. They also serve as the reference score
distribution stored in the router file, so "threshold t sends x% of traffic strong" is read
off scores with the same spread live traffic will get.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import KFold

from tiergate.evaluation._report import summarise
from tiergate.routing.learned import LearnedRouter, ModelPair, OutcomeData, fit
from tiergate.routing.learned._component import fit_components

Progress = Callable[[str], None]
FloatArray = NDArray[np.float64]


def _quiet(_: str) -> None:
    return None


def oof_scores(
    data: OutcomeData,
    pair: ModelPair,
    spec: str,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress = _quiet,
) -> FloatArray:
    """Out-of-fold scores: each fold is scored by components fitted on the other folds."""
    if folds < 2 or folds > len(data):
        raise ValueError(f"folds must be between 2 and the number of prompts ({len(data)})")
    prompts = list(data.prompts)
    weak, strong = data.outcomes[pair.weak], data.outcomes[pair.strong]
    out = np.zeros(len(prompts), dtype=np.float64)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for i, (train, test) in enumerate(splitter.split(prompts), start=1):
        started = time.perf_counter()
        components = fit_components(
            spec, [prompts[j] for j in train], weak[train], strong[train], seed=seed
        )
        total = sum(c.weight for c in components)
        test_prompts = [prompts[j] for j in test]
        out[test] = sum((c.weight / total) * c.scores(test_prompts) for c in components)
        progress(f"fold {i}/{folds}: {time.perf_counter() - started:.1f}s")
    return out


def data_fingerprint(data: OutcomeData) -> str:
    """SHA-256 over the prompts, to notice when calibration reuses the training data."""
    digest = hashlib.sha256()
    for prompt in data.prompts:
        digest.update(prompt.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def train_router(
    data: OutcomeData,
    pair: ModelPair,
    spec: str,
    *,
    folds: int = 5,
    strong_share: float = 0.5,
    seed: int = 0,
    progress: Progress = _quiet,
) -> LearnedRouter:
    """Cross-validate (unless ``folds`` is 0), then fit on everything.

    The header records the k-fold metrics (both curve methods) and, with ``folds`` = 0,
    only in-sample metrics, marked as such because they flatter the router.
    """
    weak, strong = data.outcomes[pair.weak], data.outcomes[pair.strong]
    header: dict[str, Any] = {
        "n_prompts": len(data),
        "weak_quality": round(float(weak.mean()), 4),
        "strong_quality": round(float(strong.mean()), 4),
        "pair_inferred": pair.inferred,
        "training_data_sha256": data_fingerprint(data),
        "seed": seed,
    }
    reference = None
    if folds:
        reference = oof_scores(data, pair, spec, folds=folds, seed=seed, progress=progress)
        header["metrics"] = {
            "kind": f"{folds}-fold out-of-fold",
            **summarise(reference, weak, strong),
        }
    progress("fitting on all prompts")
    router = fit(
        list(data.prompts),
        weak,
        strong,
        weak_model=pair.weak,
        strong_model=pair.strong,
        spec=spec,
        reference_scores=reference,
        strong_share=strong_share,
        seed=seed,
        header=header,
    )
    if not folds:
        in_sample = summarise(router.scores(list(data.prompts)), weak, strong)
        router.header["metrics"] = {"kind": "in-sample (optimistic)", **in_sample}
    return router
