"""Prompt shape: a handful of numbers about a prompt that carry across kinds of traffic.

Why these few: features were kept only when they point the same way on two unlike data sets
(MMLU multiple choice and GSM8K word problems, docs/routing.md): length in characters, words
and sentences (longer prompts need more steps, and the cheap model drops more of them),
quantity words ("each", "per", "twice", "remaining"...), and numbers written with decimals,
percentages or money. Statistics that describe one set's format (answer-option spread,
"Statement 1 |" pairs, digit share) ranked well inside that set and backwards on the other, so
they are left to the optional ``stats`` featuriser. Plain string operations and compiled
regular expressions: one prompt costs microseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|[\u3002\uff01\uff1f]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUANTITY = re.compile(
    r"\b(each|per|every|twice|half|third|quarter|percent|times|total|remaining|left|"
    r"more than|less than|fewer|average|ratio|rate)\b",
    re.IGNORECASE,
)

SHAPE_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "log_sentences",
    "log_quantity_words",
    "decimal_number_share",
    "has_percent",
    "has_money",
)


def prompt_shape(prompt: str) -> list[float]:
    """The feature vector of one prompt, in ``SHAPE_NAMES`` order."""
    numbers = _NUMBER.findall(prompt)
    return [
        math.log1p(len(prompt)),
        math.log1p(len(_WORD.findall(prompt))),
        math.log1p(len(_SENTENCE_END.findall(prompt))),
        math.log1p(len(_QUANTITY.findall(prompt))),
        sum(1 for n in numbers if "." in n) / (len(numbers) + 1),
        1.0 if "%" in prompt else 0.0,
        1.0 if "$" in prompt or "€" in prompt or "£" in prompt else 0.0,
    ]


def shape_matrix(prompts: Sequence[str]) -> NDArray[np.float64]:
    """Rows of ``prompt_shape`` for many prompts."""
    return np.asarray([prompt_shape(p) for p in prompts], dtype=np.float64).reshape(
        len(prompts), len(SHAPE_NAMES)
    )
