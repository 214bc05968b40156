"""``LearnedRouter``: ``score(prompt) -> float`` (higher = the strong model is needed) and a
threshold that turns the score into a decision, as RouteLLM's ``calculate_strong_win_rate``.

The score is a weighted mean of each component's estimated quality gain of the strong model
over the weak one (see ``_component``). The router also keeps a reference distribution of
scores (out-of-fold scores from training when cross-validation ran, else in-sample scores), so
a threshold can be read as "the share of traffic that goes to the strong model".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiergate.routing.learned._component import Component, fit_components
from tiergate.routing.learned._file import read_router_file, write_router_file

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LearnedRouter:
    """A fitted router. Build with ``fit`` or ``LearnedRouter.load``; immutable afterwards."""

    components: tuple[Component, ...]
    weak_model: str
    strong_model: str
    threshold: float
    reference_scores: FloatArray
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return "+".join(f"{c.kind}:{c.weight:g}" for c in self.components)

    def scores(self, prompts: Sequence[str]) -> FloatArray:
        """Scores of many prompts (one featuriser pass per component: fast for batches)."""
        total = sum(c.weight for c in self.components)
        out = np.zeros(len(prompts), dtype=np.float64)
        for component in self.components:
            out += (component.weight / total) * component.scores(prompts)
        return out

    def score(self, prompt: str) -> float:
        """Estimated quality gain of the strong model on this prompt (about -1..1)."""
        return float(self.scores([prompt])[0])

    def decide(self, prompt: str) -> bool:
        """True = send to the strong model."""
        return self.score(prompt) >= self.threshold

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
            "featuriser": self.spec,
            "threshold": self.threshold,
            "models": {"weak": self.weak_model, "strong": self.strong_model},
            "strong_share_at_threshold": round(self.strong_share_for_threshold(), 4),
        }
        payload = {"components": list(self.components), "reference": self.reference_scores}
        write_router_file(path, header, payload)

    @classmethod
    def load(cls, path: str | Path) -> LearnedRouter:
        """Load a router file; the header is checked before anything is unpickled."""
        header, payload = read_router_file(path)
        models = header["models"]
        return cls(
            components=tuple(payload["components"]),
            weak_model=models["weak"],
            strong_model=models["strong"],
            threshold=float(header["threshold"]),
            reference_scores=np.sort(np.asarray(payload["reference"], dtype=np.float64)),
            header=header,
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
    """Fit on all prompts; threshold set to send ``strong_share`` of reference prompts strong.

    Pass out-of-fold ``reference_scores`` when available: in-sample scores are overconfident,
    so shares read off them would not match live traffic.
    """
    components = tuple(fit_components(spec, prompts, weak, strong, seed=seed))
    router = LearnedRouter(components, weak_model, strong_model, 0.0, np.zeros(1), header or {})
    ref = router.scores(prompts) if reference_scores is None else reference_scores
    router = replace(router, reference_scores=np.sort(np.asarray(ref, dtype=np.float64)))
    threshold = router.threshold_for_strong_share(strong_share)
    return router.with_threshold(
        threshold, {"by": "strong_share", "strong_share": strong_share, "on": "training data"}
    )
