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

from scipy import sparse
from sklearn.preprocessing import StandardScaler

from tiergate.routing.learned._features import Matrix, TfidfFeaturiser
from tiergate.routing.learned._shape import shape_matrix

SHAPE_SCALE = 0.3


class JointFeaturiser:
    """``[TF-IDF | SHAPE_SCALE * standardised shape]`` as one sparse matrix."""

    def __init__(self, chars: bool = False) -> None:
        self.name = "tfidf-char-shape" if chars else "tfidf-shape"
        self._tfidf = TfidfFeaturiser(chars=chars)
        self._scaler = StandardScaler()

    def fit(self, prompts: Sequence[str]) -> JointFeaturiser:
        self._tfidf.fit(prompts)
        self._scaler.fit(shape_matrix(prompts))
        return self

    def transform(self, prompts: Sequence[str]) -> Matrix:
        shape = SHAPE_SCALE * self._scaler.transform(shape_matrix(prompts))
        return sparse.hstack(
            [self._tfidf.transform(prompts), sparse.csr_matrix(shape)], format="csr"
        )
