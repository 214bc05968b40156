"""TF-IDF and prompt shape in one matrix, so one logistic regression weighs them together.

Why one model and not a blend of two: averaging a TF-IDF estimate with a shape estimate counts
length twice (long word problems also have their own vocabulary) and lets neither correct the
other. Fitted jointly, the word weights explain what length does not, and the shape weights
what the words do not. The shape columns are standardised and scaled down (``SHAPE_SCALE``),
which with one shared regularisation strength penalises their weights more than the
vocabulary's: seven dense columns would otherwise dominate thousands of sparse ones. When the
vocabulary is foreign (a model trained on one kind of traffic scoring another), most TF-IDF
columns are zero and the shape columns carry the decision, as the separate ``shape`` component
does in a blend.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import StandardScaler
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from tiergate.routing.learned._features import Matrix, TfidfFeaturiser
from tiergate.routing.learned._shape import shape_matrix

SHAPE_SCALE = 0.3


def tfidf_rows(vectorizer: TfidfVectorizer, prompts: Sequence[str]) -> sparse.csr_matrix:
    """``vectorizer.transform(prompts)`` for a fitted vectoriser with ``sublinear_tf``, idf
    and l2 norm, without scikit-learn's input validation: for one prompt the validation costs
    more than the arithmetic, and this runs once per routing decision."""
    if not (vectorizer.sublinear_tf and vectorizer.use_idf and vectorizer.norm == "l2"):
        return vectorizer.transform(prompts)
    rows = CountVectorizer.transform(vectorizer, prompts).tocsr()
    np.log(rows.data, out=rows.data)
    rows.data += 1.0
    rows.data *= vectorizer.idf_[rows.indices].astype(rows.data.dtype, copy=False)
    inplace_csr_row_normalize_l2(rows)
    return rows


class JointFeaturiser:
    """``[TF-IDF | SHAPE_SCALE * standardised shape]`` as one sparse matrix."""

    def __init__(self, chars: bool = False, wide: bool = False) -> None:
        self.name = "tfidf-wide-shape" if wide else "tfidf-char-shape" if chars else "tfidf-shape"
        self._tfidf = TfidfFeaturiser(chars=chars, wide=wide)
        self._scaler = StandardScaler()

    def fit(self, prompts: Sequence[str]) -> JointFeaturiser:
        self._tfidf.fit(prompts)
        self._scaler.fit(shape_matrix(prompts))
        return self

    def transform(self, prompts: Sequence[str]) -> Matrix:
        shape = SHAPE_SCALE * self._scaler.transform(shape_matrix(prompts))
        blocks = [tfidf_rows(self._tfidf._word, prompts)]
        if self._tfidf._char is not None:
            blocks.append(tfidf_rows(self._tfidf._char, prompts))
        return sparse.hstack([*blocks, sparse.csr_matrix(shape)], format="csr")
