"""Domain prior: what a prompt's topic says about each model, learned from ``domain`` labels.

Outcome data may name each prompt's domain (an MMLU subject, a product area). The labels are
a training-only target: at decision time the router sees the prompt alone, so the prior
guesses the domain from the words. Each domain gets a centroid (the sum of its training
prompts' TF-IDF rows, L2-normalised) and, per model, its mean quality minus the model's mean
over all labelled prompts, shrunk toward zero for small domains (``SHRINKAGE`` pseudo-prompts
at the overall mean). A prompt's softmax over its cosine similarities to the centroids
(temperature ``TEMPERATURE``) weighs those offsets; ``WEIGHT`` times the result is added to
each model's estimated quality. For a weak/strong pair that adds ``WEIGHT`` times the
expected domain gain of the strong model to the score.

Why: where the gap between models is mostly topic (some subjects the cheap model knows, some
it does not), per-prompt classifiers learn the topic only through thousands of sparse word
weights fitted to noisy 0/1 outcomes; the labels say it directly, pooled over every prompt of
the domain. The prior owns its vectoriser, so it is the same whatever featuriser the
components use. Data with fewer than two domains yields no prior and the router is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from tiergate.routing.learned._joint import tfidf_rows

FloatArray = NDArray[np.float64]

WEIGHT = 0.5  # how much of the domain's expected gain is added to the score
TEMPERATURE = 0.01  # softmax temperature over cosine similarities to the domain centroids
SHRINKAGE = 10.0  # pseudo-prompts at the overall mean added to every domain


class DomainPrior:
    """Fitted centroids and per-model quality offsets of the training data's domains."""

    def __init__(
        self,
        vectorizer: TfidfVectorizer,
        centroids: sparse.csr_matrix,
        offsets: dict[str, FloatArray],
        domains: tuple[str, ...],
        *,
        weight: float = WEIGHT,
        temperature: float = TEMPERATURE,
    ) -> None:
        self.vectorizer = vectorizer
        # One L2-normalised column per domain, stored (vocabulary x domains) in CSR so that a
        # prompt's product touches only the rows of its own terms: the transpose would be
        # converted in full on every decision.
        self.centroids = centroids
        self.offsets = offsets  # per model: domain mean quality minus overall, shrunk
        self.domains = domains
        self.weight = weight
        self.temperature = temperature

    def domain_weights(self, prompts: Sequence[str]) -> FloatArray:
        """Per prompt, the softmax over domains of its similarity to each centroid."""
        sim = (tfidf_rows(self.vectorizer, prompts) @ self.centroids).toarray()
        z = (sim - sim.max(axis=1, keepdims=True)) / self.temperature
        p = np.exp(z)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)

    def adjustments(self, prompts: Sequence[str], models: Sequence[str]) -> dict[str, FloatArray]:
        """What to add to each model's estimated quality on each prompt."""
        p = self.domain_weights(prompts)
        return {m: self.weight * (p @ self.offsets[m]) for m in models}

    def describe(self) -> dict[str, float | int]:
        """For the router file's header."""
        return {"domains": len(self.domains), "weight": self.weight, "tau": self.temperature}


def fit_domain_prior(
    prompts: Sequence[str],
    domains: Sequence[str | None],
    outcomes: Mapping[str, FloatArray],
    *,
    weight: float = WEIGHT,
    temperature: float = TEMPERATURE,
) -> DomainPrior | None:
    """The prior of the labelled prompts, or None when they name fewer than two domains
    (nothing to tell apart: the router then scores exactly as without a prior)."""
    rows = [i for i, d in enumerate(domains) if d is not None]
    labels, inverse = np.unique([domains[i] for i in rows], return_inverse=True)
    if labels.size < 2:
        return None
    texts = [prompts[i] for i in rows]
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float32
    ).fit(texts)
    members = sparse.csr_matrix(
        (np.ones(len(rows)), (inverse, np.arange(len(rows)))), shape=(labels.size, len(rows))
    )
    centroids = normalize(members @ vectorizer.transform(texts)).T.astype(np.float32).tocsr()
    counts = np.bincount(inverse, minlength=labels.size).astype(np.float64)
    offsets = {}
    for model, column in outcomes.items():
        y = np.asarray(column, dtype=np.float64)[rows]
        overall = float(y.mean())
        totals = np.bincount(inverse, weights=y, minlength=labels.size)
        offsets[model] = (totals + SHRINKAGE * overall) / (counts + SHRINKAGE) - overall
    return DomainPrior(
        vectorizer,
        centroids,
        offsets,
        tuple(str(d) for d in labels),
        weight=weight,
        temperature=temperature,
    )


def with_prior(
    qualities: dict[str, FloatArray], prior: DomainPrior | None, prompts: Sequence[str]
) -> dict[str, FloatArray]:
    """``qualities`` plus the prior's adjustments (unchanged without a prior)."""
    if prior is None:
        return qualities
    extra = prior.adjustments(prompts, list(qualities))
    return {m: q + extra[m] for m, q in qualities.items()}
