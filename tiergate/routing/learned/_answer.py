"""A learned answer validator: reads (prompt, cheap model's answer), says when to escalate.

The cheapest signal about whether the strong model is needed is the cheap model's own answer,
once it exists: a cascade calls the cheap model on every prompt, then escalates the answers this
validator scores worst. Its features are a few answer checks (a final answer stated, the
answer's arithmetic re-computed, length, whether the final number is just copied from the
prompt) plus TF-IDF word n-grams of prompt and answer together; one logistic regression per
model estimates ``P(good)`` from them, and the escalation score is the estimated gain of the
strong model, ``P(strong good) - P(cheap answer good)``, as for the prompt-only router.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from tiergate.routing.answer_checks import check_arithmetic, final_answer, number
from tiergate.routing.learned._component import Constant, positive_probability, soft_labels
from tiergate.routing.learned._file import read_router_file, write_router_file
from tiergate.routing.learned._router import prompt_hashes

FloatArray = NDArray[np.float64]
KIND = "answer-validator"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

ANSWER_FEATURE_NAMES: tuple[str, ...] = (
    "log_answer_chars",
    "final_answer_stated",
    "final_answer_numeric",
    "final_answer_fractional",
    "log_equations_checked",
    "log_equations_wrong",
    "any_equation_wrong",
    "no_equation_checked",
    "final_copied_from_prompt",
    "final_negative",
    "log_answer_lines",
)


def answer_features(prompt: str, answer: str) -> list[float]:
    """The answer checks as numbers, in ``ANSWER_FEATURE_NAMES`` order."""
    arithmetic = check_arithmetic(answer)
    stated = final_answer(answer)
    value = number(stated) if stated is not None else None
    in_prompt = {number(n) for n in _NUMBER.findall(prompt)}
    return [
        math.log1p(len(answer)),
        1.0 if stated is not None else 0.0,
        1.0 if value is not None else 0.0,
        1.0 if value is not None and value != int(value) else 0.0,
        math.log1p(arithmetic.checked),
        math.log1p(len(arithmetic.wrong)),
        1.0 if arithmetic.wrong else 0.0,
        1.0 if arithmetic.checked == 0 else 0.0,
        1.0 if value is not None and value in in_prompt else 0.0,
        1.0 if value is not None and value < 0 else 0.0,
        math.log1p(answer.count("\n")),
    ]


class AnswerFeaturiser:
    """Scaled answer checks beside TF-IDF of prompt and answer; fitted on training pairs."""

    name = "answer"

    def __init__(self) -> None:
        self._scaler = StandardScaler()
        self._text = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float32
        )

    @staticmethod
    def _joined(prompts: Sequence[str], answers: Sequence[str]) -> list[str]:
        return [f"{p}\n\n{a}" for p, a in zip(prompts, answers, strict=True)]

    @staticmethod
    def _checks(prompts: Sequence[str], answers: Sequence[str]) -> FloatArray:
        rows = [answer_features(p, a) for p, a in zip(prompts, answers, strict=True)]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(ANSWER_FEATURE_NAMES))

    def fit(self, prompts: Sequence[str], answers: Sequence[str]) -> AnswerFeaturiser:
        self._scaler.fit(self._checks(prompts, answers))
        self._text.fit(self._joined(prompts, answers))
        return self

    def transform(self, prompts: Sequence[str], answers: Sequence[str]) -> Any:
        dense = sparse.csr_matrix(self._scaler.transform(self._checks(prompts, answers)))
        return sparse.hstack([dense, self._text.transform(self._joined(prompts, answers))], "csr")


def _fit_probability(features: Any, y: FloatArray) -> Any:
    x, labels, weights = soft_labels(features, y)
    if np.unique(labels).size < 2:
        return Constant(float(np.average(labels, weights=weights)))
    return LogisticRegression(C=1.0, max_iter=3000).fit(x, labels, sample_weight=weights)


@dataclass(frozen=True)
class AnswerValidatorModel:
    """Fitted featuriser and two estimators; ``scores`` high = escalate."""

    featuriser: AnswerFeaturiser
    cheap: Any
    strong: Any

    def scores(self, prompts: Sequence[str], answers: Sequence[str]) -> FloatArray:
        x = self.featuriser.transform(prompts, answers)
        return positive_probability(self.strong, x) - positive_probability(self.cheap, x)


def fit_answer_model(
    prompts: Sequence[str], answers: Sequence[str], cheap: FloatArray, strong: FloatArray
) -> AnswerValidatorModel:
    """Fit on the cheap model's answers and both models' outcomes."""
    featuriser = AnswerFeaturiser().fit(prompts, answers)
    x = featuriser.transform(prompts, answers)
    return AnswerValidatorModel(featuriser, _fit_probability(x, cheap), _fit_probability(x, strong))


@dataclass(frozen=True)
class AnswerValidator:
    """A saved answer validator: escalate when ``score >= threshold``."""

    model: AnswerValidatorModel
    cheap_model: str
    strong_model: str
    threshold: float
    reference_scores: FloatArray
    header: dict[str, Any] = field(default_factory=dict)
    training_hashes: NDArray[np.uint64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.uint64)
    )

    def scores(self, prompts: Sequence[str], answers: Sequence[str]) -> FloatArray:
        return self.model.scores(prompts, answers)

    def score(self, prompt: str, answer: str) -> float:
        """Estimated gain of escalating this answer to the strong model (about -1..1)."""
        return float(self.model.scores([prompt], [answer])[0])

    def escalate(self, prompt: str, answer: str) -> bool:
        return self.score(prompt, answer) >= self.threshold

    def overlap(self, prompts: Sequence[str]) -> int:
        """How many of ``prompts`` (distinct, stripped) the validator was trained on."""
        if self.training_hashes.size == 0:
            return 0
        return int(np.isin(prompt_hashes(prompts), self.training_hashes).sum())

    def threshold_for_escalation_share(self, share: float) -> float:
        """The threshold that escalates about ``share`` (0..1) of reference answers."""
        if not 0.0 <= share <= 1.0:
            raise ValueError("escalation share must lie in [0, 1]")
        ref = self.reference_scores
        k = round(share * ref.size)
        if k <= 0:
            return float(np.nextafter(ref[-1], np.inf))
        return float(ref[ref.size - k])

    def with_threshold(self, threshold: float, calibration: dict[str, Any]) -> AnswerValidator:
        header = {**self.header, "threshold": threshold, "calibration": calibration}
        return replace(self, threshold=threshold, header=header)

    def save(self, path: str | Path) -> None:
        header = {
            **self.header,
            "kind": KIND,
            "threshold": self.threshold,
            "models": {"weak": self.cheap_model, "strong": self.strong_model},
        }
        payload = {
            "model": self.model,
            "reference": self.reference_scores,
            "training_hashes": self.training_hashes,
        }
        write_router_file(path, header, payload)

    @classmethod
    def load(cls, path: str | Path) -> AnswerValidator:
        """Load a validator file (the header is checked before anything is unpickled)."""
        header, payload = read_router_file(path, kind=KIND)
        return cls(
            model=payload["model"],
            cheap_model=header["models"]["weak"],
            strong_model=header["models"]["strong"],
            threshold=float(header["threshold"]),
            reference_scores=np.sort(np.asarray(payload["reference"], dtype=np.float64)),
            header=header,
            training_hashes=np.asarray(payload.get("training_hashes", ()), dtype=np.uint64),
        )


def fit_validator(
    prompts: Sequence[str],
    answers: Sequence[str],
    outcomes: Mapping[str, FloatArray],
    *,
    cheap_model: str,
    strong_model: str,
    reference_scores: FloatArray | None = None,
    escalation_share: float = 0.3,
    header: dict[str, Any] | None = None,
) -> AnswerValidator:
    """Fit on all pairs; threshold set to escalate ``escalation_share`` of reference answers."""
    if not prompts:
        raise ValueError("no training prompts")
    model = fit_answer_model(prompts, answers, outcomes[cheap_model], outcomes[strong_model])
    ref = model.scores(prompts, answers) if reference_scores is None else reference_scores
    validator = AnswerValidator(
        model,
        cheap_model,
        strong_model,
        0.0,
        np.sort(np.asarray(ref, dtype=np.float64)),
        header or {},
        prompt_hashes(prompts),
    )
    threshold = validator.threshold_for_escalation_share(escalation_share)
    return validator.with_threshold(
        threshold, {"by": "escalation_share", "escalation_share": escalation_share}
    )
