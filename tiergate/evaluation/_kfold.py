"""k-fold cross-validation and training of learned routers and answer validators.

Out-of-fold scores are the honest way to measure a router on the data it learns from: every
prompt is scored by a router that never saw it. They also serve as the reference score
distribution stored in the router file, so "threshold t sends x% of traffic strong" is read
off scores with the same spread live traffic will get.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import KFold

from tiergate.evaluation._progress import Progress, quiet
from tiergate.evaluation._report import summarise
from tiergate.routing.learned import (
    AnswerValidator,
    LearnedRouter,
    ModelPair,
    OutcomeData,
    fit_answer_model,
    fit_models,
    fit_validator,
)
from tiergate.routing.learned._component import blend_qualities, fit_components
from tiergate.routing.learned._domain_prior import fit_domain_prior, with_prior

FloatArray = NDArray[np.float64]


def _splits(n: int, folds: int, seed: int) -> list[tuple[Any, Any]]:
    if folds < 2 or folds > n:
        raise ValueError(f"folds must be between 2 and the number of prompts ({n})")
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.arange(n)))


def oof_qualities(
    data: OutcomeData,
    models: Sequence[str],
    spec: str,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress = quiet,
    domain_prior: bool = True,
) -> dict[str, FloatArray]:
    """Out-of-fold ``P(good)`` estimates of each model, per prompt; the domain prior (unless
    ``domain_prior`` is False) is fitted, like the components, on the training folds alone."""
    prompts = list(data.prompts)
    out = {m: np.zeros(len(prompts), dtype=np.float64) for m in models}
    splits = _splits(len(prompts), folds, seed)
    progress("cross-validation", 0, folds)
    for i, (train, test) in enumerate(splits, start=1):
        columns = {m: data.outcomes[m][train] for m in models}
        train_prompts = [prompts[j] for j in train]
        test_prompts = [prompts[j] for j in test]
        components = fit_components(spec, train_prompts, columns, seed=seed)
        prior = (
            fit_domain_prior(train_prompts, [data.domains[j] for j in train], columns)
            if domain_prior
            else None
        )
        q = with_prior(blend_qualities(components, test_prompts, models), prior, test_prompts)
        for model in models:
            out[model][test] = q[model]
        progress("cross-validation", i, folds)
    return out


def oof_scores(
    data: OutcomeData,
    pair: ModelPair,
    spec: str,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress = quiet,
    domain_prior: bool = True,
) -> FloatArray:
    """Out-of-fold scores: each fold is scored by components fitted on the other folds."""
    q = oof_qualities(
        data,
        (pair.weak, pair.strong),
        spec,
        folds=folds,
        seed=seed,
        progress=progress,
        domain_prior=domain_prior,
    )
    return q[pair.strong] - q[pair.weak]


def cheap_answers(data: OutcomeData, cheap: str) -> tuple[str, ...]:
    """The cheap model's answers, or a ValueError saying the data has none."""
    if data.responses is None or cheap not in data.responses:
        have = sorted(data.responses or {})
        raise ValueError(
            f"the data carries no 'responses' for {cheap!r} on every line (answers for: "
            f"{', '.join(have) or 'none'}); an answer validator learns from them"
        )
    return data.responses[cheap]


def oof_validator_scores(
    data: OutcomeData,
    pair: ModelPair,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress = quiet,
) -> FloatArray:
    """Out-of-fold escalation scores of the answer validator (the weak model's answers)."""
    prompts, answers = list(data.prompts), cheap_answers(data, pair.weak)
    weak, strong = data.outcomes[pair.weak], data.outcomes[pair.strong]
    out = np.zeros(len(prompts), dtype=np.float64)
    splits = _splits(len(prompts), folds, seed)
    progress("cross-validation", 0, folds)
    for i, (train, test) in enumerate(splits, start=1):
        model = fit_answer_model(
            [prompts[j] for j in train], [answers[j] for j in train], weak[train], strong[train]
        )
        out[test] = model.scores([prompts[j] for j in test], [answers[j] for j in test])
        progress("cross-validation", i, folds)
    return out


def data_fingerprint(data: OutcomeData) -> str:
    """SHA-256 over the prompts, to notice when calibration reuses the training data."""
    digest = hashlib.sha256()
    for prompt in data.prompts:
        digest.update(prompt.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _header(data: OutcomeData, pair: ModelPair, seed: int) -> dict[str, Any]:
    weak, strong = data.outcomes[pair.weak], data.outcomes[pair.strong]
    return {
        "n_prompts": len(data),
        "weak_quality": round(float(weak.mean()), 4),
        "strong_quality": round(float(strong.mean()), 4),
        "pair_inferred": pair.inferred,
        "outcome_scale": [data.scale.low, data.scale.high],
        "training_data_sha256": data_fingerprint(data),
        "seed": seed,
    }


def train_router(
    data: OutcomeData,
    pair: ModelPair,
    spec: str,
    *,
    folds: int = 5,
    strong_share: float = 0.5,
    seed: int = 0,
    progress: Progress = quiet,
    models: Sequence[str] | None = None,
    domain_prior: bool = True,
) -> LearnedRouter:
    """Cross-validate (unless ``folds`` is 0), then fit on everything.

    ``models`` (cheapest first) defaults to the pair; the pair's weak and strong model must be
    its first and last. ``domain_prior`` False leaves the data's domain labels unused. The
    header records the k-fold metrics (both curve methods) and, with ``folds`` = 0, only
    in-sample metrics, marked as such because they flatter the router.
    """
    order = tuple(models) if models is not None else (pair.weak, pair.strong)
    if order[0] != pair.weak or order[-1] != pair.strong:
        raise ValueError("the model order must start with the weak and end with the strong model")
    weak, strong = data.outcomes[pair.weak], data.outcomes[pair.strong]
    header = _header(data, pair, seed)
    reference = None
    if folds:
        reference = oof_scores(
            data,
            pair,
            spec,
            folds=folds,
            seed=seed,
            progress=progress,
            domain_prior=domain_prior,
        )
        header["metrics"] = {
            "kind": f"{folds}-fold out-of-fold",
            **summarise(reference, weak, strong),
        }
    progress("fitting on all prompts", 0, 1)
    router = fit_models(
        list(data.prompts),
        data.outcomes,
        order,
        spec=spec,
        reference_scores=reference,
        strong_share=strong_share,
        seed=seed,
        header=header,
        domains=data.domains,
        domain_prior=domain_prior,
    )
    progress("fitting on all prompts", 1, 1)
    if not folds:
        in_sample = summarise(router.scores(list(data.prompts)), weak, strong)
        router.header["metrics"] = {"kind": "in-sample (optimistic)", **in_sample}
    return router


def train_validator(
    data: OutcomeData,
    pair: ModelPair,
    *,
    folds: int = 5,
    escalation_share: float = 0.3,
    seed: int = 0,
    progress: Progress = quiet,
) -> AnswerValidator:
    """Cross-validate the answer validator (unless ``folds`` is 0), then fit on everything."""
    answers = cheap_answers(data, pair.weak)
    weak, strong = data.outcomes[pair.weak], data.outcomes[pair.strong]
    header = _header(data, pair, seed)
    reference = None
    if folds:
        reference = oof_validator_scores(data, pair, folds=folds, seed=seed, progress=progress)
        header["metrics"] = {
            "kind": f"{folds}-fold out-of-fold cascade",
            **summarise(reference, weak, strong),
        }
    progress("fitting on all prompts", 0, 1)
    validator = fit_validator(
        list(data.prompts),
        answers,
        data.outcomes,
        cheap_model=pair.weak,
        strong_model=pair.strong,
        reference_scores=reference,
        escalation_share=escalation_share,
        header=header,
    )
    progress("fitting on all prompts", 1, 1)
    return validator
