"""One scoring component: a featuriser plus two probability models, one per model of the pair.

The score is the estimated gain of the strong model, ``P(strong good) - P(weak good)``.
Why two models and not one on "strong needed" (weak wrong and strong right)? Measured on
MMLU with 5-fold CV, the difference ranks best: a classifier of the weak model's failure
alone also sends prompts that both models fail (APGR 0.60), the "needed" label throws away
that the strong model sometimes fails where the weak one succeeds (0.67); the difference of two
calibrated probabilities is an estimate of the expected quality gain (0.69 on TF-IDF).

Graded outcomes in (0, 1) are fitted as soft labels: the row appears once as positive with
weight ``y`` and once as negative with weight ``1 - y`` (exact cross-entropy for soft targets).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
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
DEFAULT_SPEC = "tfidf:0.75+stats:0.25"


def _estimator(kind: str, seed: int) -> Any:
    if kind == "stats":
        return HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed
        )
    # Weaker regularisation than sklearn's default C=1 measured better on sparse TF-IDF.
    return LogisticRegression(C=0.3 if kind.startswith("tfidf") else 1.0, max_iter=3000)


def _soft_labels(features: Matrix, y: FloatArray) -> tuple[Matrix, FloatArray, FloatArray]:
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


def _positive_probability(model: Any, features: Matrix) -> FloatArray:
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
    strong_model: Any
    weak_model: Any

    def scores(self, prompts: Sequence[str]) -> FloatArray:
        features = self.featuriser.transform(prompts)
        if self.kind == "stats" and len(prompts) <= _SMALL_BATCH:
            # Gradient boosting predicts through an OpenMP pool; for one row, waking the pool
            # costs more than the trees (p99 of ~90 ms vs ~1 ms single-threaded).
            with _threadpools().limit(limits=1, user_api="openmp"):
                return self._gain(features)
        return self._gain(features)

    def _gain(self, features: Matrix) -> FloatArray:
        return _positive_probability(self.strong_model, features) - _positive_probability(
            self.weak_model, features
        )


_SMALL_BATCH = 64


@functools.cache
def _threadpools() -> ThreadpoolController:
    """Inspecting the loaded thread pools is slow; do it once per process."""
    return ThreadpoolController()


def _fit_one(kind: str, features: Matrix, y: FloatArray, seed: int) -> Any:
    x, labels, weights = _soft_labels(features, y)
    model = _estimator(kind, seed)
    if np.unique(labels).size < 2:
        # A model that is always right (or always wrong) on the training data: constant.
        return _Constant(float(np.average(labels, weights=weights)))
    model.fit(x, labels, sample_weight=weights)
    return model


class _Constant:
    """Stands in for a classifier whose training labels were all one class."""

    def __init__(self, positive: float) -> None:
        self.classes_ = [0.0, 1.0]
        self.positive = positive

    def predict_proba(self, features: Matrix) -> FloatArray:
        n = features.shape[0]
        return np.column_stack([np.full(n, 1.0 - self.positive), np.full(n, self.positive)])


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """``"tfidf:0.75+stats:0.25"`` -> [("tfidf", 0.75), ("stats", 0.25)]; weight defaults to 1."""
    parts: list[tuple[str, float]] = []
    for chunk in spec.split("+"):
        kind, _, weight = chunk.strip().partition(":")
        make_featuriser(kind)  # validates the name early
        try:
            value = float(weight) if weight else 1.0
        except ValueError as exc:
            raise ValueError(f"bad weight {weight!r} in featuriser spec {spec!r}") from exc
        parts.append((kind, value))
    if not parts or sum(w for _, w in parts) <= 0:
        raise ValueError(f"featuriser spec {spec!r} has no positive weight")
    return parts


def fit_components(
    spec: str, prompts: Sequence[str], weak: FloatArray, strong: FloatArray, seed: int = 0
) -> list[Component]:
    """Fit every component of ``spec`` on the same training prompts."""
    fitted = []
    for kind, weight in parse_spec(spec):
        featuriser = make_featuriser(kind).fit(prompts)
        features = featuriser.transform(prompts)
        fitted.append(
            Component(
                kind,
                weight,
                featuriser,
                _fit_one(kind, features, strong, seed),
                _fit_one(kind, features, weak, seed),
            )
        )
    return fitted
