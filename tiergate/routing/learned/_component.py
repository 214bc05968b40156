"""One scoring component: a featuriser plus one probability model per model of the data.

Each estimator predicts ``P(model's answer is good | prompt)``; the pair score is the estimated
gain of the strong model, ``P(strong good) - P(weak good)``, and with more than two models the
router compares every model's estimate with the strongest one's. Why one model per model and
not one on "strong needed" (weak wrong and strong right)? Measured on MMLU with 5-fold CV, the
difference ranks best: a classifier of the weak model's failure alone also sends prompts that
both models fail, the "needed" label throws away that the strong model sometimes fails where
the weak one succeeds; the difference of two calibrated probabilities estimates the expected
quality gain (figures in docs/routing.md).

Graded outcomes in (0, 1) are fitted as soft labels: the row appears once as positive with
weight ``y`` and once as negative with weight ``1 - y`` (exact cross-entropy for soft targets).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from tiergate.routing.learned._features import Featuriser, Matrix, make_featuriser

FloatArray = NDArray[np.float64]
DEFAULT_SPEC = "tfidf-wide-shape"
EMBEDDING_C = 0.001


def _estimator(kind: str, seed: int) -> Any:
    if kind == "stats":
        return HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed
        )
    # Weaker regularisation than sklearn's default C=1 measured better on sparse TF-IDF; the
    # dense static embedding needs far stronger (docs/routing.md).
    c = 0.3 if kind.startswith("tfidf") else EMBEDDING_C if kind == "emb" else 1.0
    return LogisticRegression(C=c, max_iter=3000)


def soft_labels(features: Matrix, y: FloatArray) -> tuple[Matrix, FloatArray, FloatArray]:
    """Rows with a fractional outcome become a weighted positive and a weighted negative."""
    frac = np.flatnonzero((y > 0.0) & (y < 1.0))
    if frac.size == 0:
        return features, y, np.ones_like(y)
    hard = np.flatnonzero((y == 0.0) | (y == 1.0))
    rows = np.concatenate([hard, frac, frac])
    labels = np.concatenate([y[hard], np.ones(frac.size), np.zeros(frac.size)])
    weights = np.concatenate([np.ones(hard.size), y[frac], 1.0 - y[frac]])
    picked = features[rows] if sparse.issparse(features) else np.asarray(features)[rows]
    return picked, labels, weights


def positive_probability(model: Any, features: Matrix) -> FloatArray:
    """``P(label 1)`` from a fitted classifier (0 when it never saw a positive)."""
    classes = list(model.classes_)
    proba = model.predict_proba(features)
    if 1.0 not in classes:  # the model only ever saw failures
        return np.zeros(proba.shape[0])
    return np.asarray(proba[:, classes.index(1.0)], dtype=np.float64)


@dataclass
class Component:
    """A fitted featuriser and its per-model probability estimators, with a blend weight."""

    kind: str
    weight: float
    featuriser: Featuriser
    estimators: dict[str, Any]

    def qualities(self, prompts: Sequence[str], models: Sequence[str]) -> dict[str, FloatArray]:
        """Estimated ``P(good)`` of each of ``models`` on each prompt."""
        features = self.featuriser.transform(prompts)
        if self.kind == "stats" and len(prompts) <= _SMALL_BATCH:
            # Gradient boosting predicts through an OpenMP pool; for one row, waking the pool
            # costs more than the trees.
            with _threadpools().limit(limits=1, user_api="openmp"):
                return {m: positive_probability(self.estimators[m], features) for m in models}
        return {m: positive_probability(self.estimators[m], features) for m in models}


_SMALL_BATCH = 64


@functools.cache
def _threadpools() -> ThreadpoolController:
    """Inspecting the loaded thread pools is slow; do it once per process."""
    return ThreadpoolController()


def fit_probability(kind: str, features: Matrix, y: FloatArray, seed: int) -> Any:
    """A classifier of "this answer is good", soft labels for graded outcomes."""
    x, labels, weights = soft_labels(features, y)
    if np.unique(labels).size < 2:
        # A model that is always right (or always wrong) on the training data: constant.
        return Constant(float(np.average(labels, weights=weights)))
    model = _estimator(kind, seed)
    model.fit(x, labels, sample_weight=weights)
    return model


class Constant:
    """Stands in for a classifier whose training labels were all one class."""

    def __init__(self, positive: float) -> None:
        self.classes_ = [0.0, 1.0]
        self.positive = positive

    def predict_proba(self, features: Matrix) -> FloatArray:
        n = features.shape[0]
        return np.column_stack([np.full(n, 1.0 - self.positive), np.full(n, self.positive)])


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """``"tfidf:0.5+shape:0.5"`` -> [("tfidf", 0.5), ("shape", 0.5)]; weight defaults to 1."""
    parts: list[tuple[str, float]] = []
    for chunk in spec.split("+"):
        kind, _, weight = chunk.strip().partition(":")
        make_featuriser(kind)  # validates the name early
        try:
            value = float(weight) if weight else 1.0
        except ValueError as exc:
            raise ValueError(f"bad weight {weight!r} in featuriser spec {spec!r}") from exc
        if value < 0:
            raise ValueError(f"negative weight in featuriser spec {spec!r}")
        parts.append((kind, value))
    if not parts or sum(w for _, w in parts) <= 0:
        raise ValueError(f"featuriser spec {spec!r} has no positive weight")
    return parts


def fit_components(
    spec: str, prompts: Sequence[str], outcomes: Mapping[str, FloatArray], seed: int = 0
) -> list[Component]:
    """Fit every component of ``spec`` on the same training prompts, one estimator per model."""
    fitted = []
    for kind, weight in parse_spec(spec):
        featuriser = make_featuriser(kind).fit(prompts)
        features = featuriser.transform(prompts)
        estimators = {m: fit_probability(kind, features, y, seed) for m, y in outcomes.items()}
        fitted.append(Component(kind, weight, featuriser, estimators))
    return fitted


def blend_qualities(
    components: Sequence[Component], prompts: Sequence[str], models: Sequence[str]
) -> dict[str, FloatArray]:
    """The weight-averaged ``P(good)`` of each model over the components."""
    total = sum(c.weight for c in components)
    out = {m: np.zeros(len(prompts), dtype=np.float64) for m in models}
    for component in components:
        if component.weight == 0:
            continue
        for model, q in component.qualities(prompts, models).items():
            out[model] += (component.weight / total) * q
    return out
