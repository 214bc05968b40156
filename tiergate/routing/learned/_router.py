"""``LearnedRouter``: ``score(prompt) -> float`` (higher = the strong model is needed) and a
threshold that turns the score into a decision, as RouteLLM's ``calculate_strong_win_rate``.

The score is the weighted mean over components of the estimated quality gain of the strong
model over the weak one (see ``_component``). With more than two models (``models``, cheapest
first), ``choose`` routes to the cheapest model whose estimated quality is within the
threshold of the strongest model's: the same rule as ``decide`` when there are two, and a tie
goes to the cheaper model. The router keeps a reference distribution of scores (out-of-fold
when cross-validation ran, else in-sample), so a threshold reads as "the share of traffic that
goes to the strong model", and short hashes of its training prompts, so an evaluation can say
when it is being run on the data the router learned from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiergate.routing.learned._component import Component, blend_qualities, fit_components
from tiergate.routing.learned._domain_prior import DomainPrior, fit_domain_prior, with_prior
from tiergate.routing.learned._file import read_router_file, write_router_file

FloatArray = NDArray[np.float64]


def prompt_hashes(prompts: Sequence[str]) -> NDArray[np.uint64]:
    """Sorted 64-bit BLAKE2b digests of the prompts (stripped), for overlap checks."""
    digests = {
        int.from_bytes(hashlib.blake2b(p.strip().encode("utf-8"), digest_size=8).digest(), "big")
        for p in prompts
    }
    return np.sort(np.fromiter(digests, dtype=np.uint64, count=len(digests)))


@dataclass(frozen=True)
class LearnedRouter:
    """A fitted router. Build with ``fit`` or ``LearnedRouter.load``; immutable afterwards."""

    components: tuple[Component, ...]
    models: tuple[str, ...]  # cheapest first; the first is the weak, the last the strong model
    threshold: float
    reference_scores: FloatArray
    header: dict[str, Any] = field(default_factory=dict)
    training_hashes: NDArray[np.uint64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.uint64)
    )
    domain_prior: DomainPrior | None = None  # learned from the training data's domain labels

    @property
    def weak_model(self) -> str:
        return self.models[0]

    @property
    def strong_model(self) -> str:
        return self.models[-1]

    @property
    def spec(self) -> str:
        return "+".join(f"{c.kind}:{c.weight:g}" for c in self.components)

    def qualities(self, prompts: Sequence[str]) -> dict[str, FloatArray]:
        """Estimated probability that each model's answer is good, per prompt (plus the
        domain prior's adjustment, when the router has one)."""
        q = blend_qualities(self.components, prompts, self.models)
        return with_prior(q, self.domain_prior, prompts)

    def scores(self, prompts: Sequence[str]) -> FloatArray:
        """Scores of many prompts (one featuriser pass per component: fast for batches)."""
        pair = (self.weak_model, self.strong_model)
        q = with_prior(blend_qualities(self.components, prompts, pair), self.domain_prior, prompts)
        return q[self.strong_model] - q[self.weak_model]

    def score(self, prompt: str) -> float:
        """Estimated quality gain of the strong model on this prompt (about -1..1)."""
        return float(self.scores([prompt])[0])

    def decide(self, prompt: str) -> bool:
        """True = send to the strong model."""
        return self.score(prompt) >= self.threshold

    def choose_many(self, prompts: Sequence[str], threshold: float | None = None) -> list[str]:
        """Per prompt, the cheapest model predicted to be good enough: its estimated quality
        is less than ``threshold`` below the strongest model's (the strongest otherwise)."""
        t = self.threshold if threshold is None else threshold
        q = self.qualities(prompts)
        top = q[self.strong_model]
        chosen = np.full(len(prompts), len(self.models) - 1)
        for i in range(len(self.models) - 2, -1, -1):
            chosen = np.where(top - q[self.models[i]] < t, i, chosen)
        return [self.models[int(i)] for i in chosen]

    def choose(self, prompt: str) -> str:
        """The model for one prompt (``decide`` generalised to any number of models)."""
        return self.choose_many([prompt])[0]

    def overlap(self, prompts: Sequence[str]) -> int:
        """How many of ``prompts`` (distinct, stripped) the router was trained on."""
        if self.training_hashes.size == 0:
            return 0
        mine = prompt_hashes(prompts)
        return int(np.isin(mine, self.training_hashes, assume_unique=True).sum())

    def strong_share_for_threshold(self, threshold: float | None = None) -> float:
        """Share of reference prompts that would go strong at ``threshold`` (default: own)."""
        t = self.threshold if threshold is None else threshold
        ref = self.reference_scores
        return float(ref.size - np.searchsorted(ref, t, side="left")) / max(ref.size, 1)

    def threshold_for_strong_share(self, share: float) -> float:
        """The threshold that sends about ``share`` (0..1) of reference prompts strong."""
        if not 0.0 <= share <= 1.0:
            raise ValueError("strong share must lie in [0, 1]")
        ref = self.reference_scores
        k = round(share * ref.size)
        if k <= 0:
            return float(np.nextafter(ref[-1], np.inf))
        return float(ref[ref.size - k])

    def with_threshold(self, threshold: float, calibration: dict[str, Any]) -> LearnedRouter:
        """A copy with a new threshold; ``calibration`` records how it was chosen."""
        header = {**self.header, "threshold": threshold, "calibration": calibration}
        return replace(self, threshold=threshold, header=header)

    def save(self, path: str | Path) -> None:
        header = {
            **self.header,
            "kind": "router",
            "featuriser": self.spec,
            "threshold": self.threshold,
            "models": {"weak": self.weak_model, "strong": self.strong_model},
            "model_order": list(self.models),
            "strong_share_at_threshold": round(self.strong_share_for_threshold(), 4),
            "domain_prior": None if self.domain_prior is None else self.domain_prior.describe(),
        }
        payload = {
            "components": list(self.components),
            "reference": self.reference_scores,
            "training_hashes": self.training_hashes,
            "domain_prior": self.domain_prior,
        }
        write_router_file(path, header, payload)

    @classmethod
    def load(cls, path: str | Path) -> LearnedRouter:
        """Load a router file; the header is checked before anything is unpickled."""
        header, payload = read_router_file(path)
        models = header.get("model_order") or [header["models"]["weak"], header["models"]["strong"]]
        return cls(
            components=tuple(payload["components"]),
            models=tuple(models),
            threshold=float(header["threshold"]),
            reference_scores=np.sort(np.asarray(payload["reference"], dtype=np.float64)),
            header=header,
            training_hashes=np.asarray(payload.get("training_hashes", ()), dtype=np.uint64),
            domain_prior=payload.get("domain_prior"),  # absent from version-2 files
        )


def fit_models(
    prompts: Sequence[str],
    outcomes: Mapping[str, FloatArray],
    models: Sequence[str],
    *,
    spec: str,
    reference_scores: FloatArray | None = None,
    strong_share: float = 0.5,
    seed: int = 0,
    header: dict[str, Any] | None = None,
    domains: Sequence[str | None] | None = None,
    domain_prior: bool = True,
) -> LearnedRouter:
    """Fit on all prompts for ``models`` (cheapest first, at least two); threshold set to send
    ``strong_share`` of reference prompts strong.

    Pass out-of-fold ``reference_scores`` when available: in-sample scores are overconfident,
    so shares read off them would not match live traffic. ``domains`` (one label or None per
    prompt) train the domain prior unless ``domain_prior`` is False.
    """
    if len(models) < 2 or len(set(models)) != len(models):
        raise ValueError("a router needs at least two different models")
    columns = {m: outcomes[m] for m in models}
    components = tuple(fit_components(spec, prompts, columns, seed=seed))
    prior = (
        fit_domain_prior(prompts, domains, columns)
        if domains is not None and domain_prior
        else None
    )
    router = LearnedRouter(
        components, tuple(models), 0.0, np.zeros(1), header or {}, prompt_hashes(prompts), prior
    )
    ref = router.scores(prompts) if reference_scores is None else reference_scores
    router = replace(router, reference_scores=np.sort(np.asarray(ref, dtype=np.float64)))
    threshold = router.threshold_for_strong_share(strong_share)
    return router.with_threshold(
        threshold, {"by": "strong_share", "strong_share": strong_share, "on": "training data"}
    )


def fit(
    prompts: Sequence[str],
    weak: FloatArray,
    strong: FloatArray,
    *,
    weak_model: str,
    strong_model: str,
    spec: str,
    reference_scores: FloatArray | None = None,
    strong_share: float = 0.5,
    seed: int = 0,
    header: dict[str, Any] | None = None,
) -> LearnedRouter:
    """``fit_models`` for one weak/strong pair."""
    return fit_models(
        prompts,
        {weak_model: weak, strong_model: strong},
        (weak_model, strong_model),
        spec=spec,
        reference_scores=reference_scores,
        strong_share=strong_share,
        seed=seed,
        header=header,
    )
