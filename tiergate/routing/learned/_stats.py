"""Prompt statistics: a few dozen numbers that describe a prompt's shape, not its topic.

Why these: a cheap model fails more often on calculation (digits, math symbols, numeric
answer options), on negated questions ("NOT", "EXCEPT"), on paired-statement questions, and
on long multi-part prompts; answer options that differ a lot in length hint at a trap. The
features are computed with plain string operations and compiled regular expressions, so one
prompt costs microseconds. They carry no topic words: the sparse text features do that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_OPTION = re.compile(r"^\s*\(?([A-J])[.)]\s*(.*)$", re.MULTILINE)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_MATH = re.compile(r"[=+*/^<>√∑∫π±\u00d7÷≤≥]|\\frac|\\sqrt|\$")
_WORD = re.compile(r"[A-Za-z]+")
_NEGATION = re.compile(r"\b(NOT|EXCEPT|LEAST|never|false)\b")
_CUES = (
    re.compile(r"^\s*Statement 1", re.MULTILINE),
    re.compile(r"following information|passage|excerpt", re.IGNORECASE),
    re.compile(r"\b(calculate|compute|how many|how much|what is the value|find)\b", re.I),
    re.compile(r"\b(which of the following)\b", re.IGNORECASE),
    re.compile(r"\b(all of the above|none of the above|both)\b", re.IGNORECASE),
    re.compile(r"\b(True|False|Wrong|Not wrong)\s*,", re.IGNORECASE),
    re.compile(r"\b(code|function|program|print|return)\b"),
    re.compile(r"\b(probability|integral|derivative|equation|matrix)\b", re.IGNORECASE),
    re.compile(r"\b(I|II|III|IV)\b"),
    re.compile(r"_{2,}"),
)

FEATURE_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "log_stem_chars",
    "lines",
    "n_options",
    "option_mean_log_chars",
    "option_spread",
    "option_longest_ratio",
    "numeric_options",
    "digit_share",
    "upper_share",
    "math_symbols",
    "numbers",
    "negation",
    "mean_word_length",
    "question_marks",
    *(f"cue_{i}" for i in range(len(_CUES))),
)


def prompt_statistics(prompt: str) -> list[float]:
    """The feature vector of one prompt, in ``FEATURE_NAMES`` order."""
    n = max(len(prompt), 1)
    words = _WORD.findall(prompt)
    options = [m.group(2).strip() for m in _OPTION.finditer(prompt)]
    first_option = _OPTION.search(prompt)
    stem = prompt[: first_option.start()] if first_option else prompt
    lengths = [len(o) for o in options] or [0]
    mean_len = sum(lengths) / len(lengths)
    numeric = sum(1 for o in options if o and _NUMBER.fullmatch(o.replace(" ", "")) is not None)
    return [
        math.log1p(len(prompt)),
        math.log1p(len(words)),
        math.log1p(len(stem)),
        math.log1p(prompt.count("\n")),
        float(len(options)),
        math.log1p(mean_len),
        (max(lengths) - min(lengths)) / (mean_len + 1.0),
        max(lengths) / (mean_len + 1.0),
        numeric / max(len(options), 1),
        sum(c.isdigit() for c in prompt) / n,
        sum(c.isupper() for c in prompt) / n,
        math.log1p(len(_MATH.findall(prompt))),
        math.log1p(len(_NUMBER.findall(prompt))),
        float(len(_NEGATION.findall(stem))),
        sum(len(w) for w in words) / max(len(words), 1),
        float(stem.count("?")),
    ] + [1.0 if cue.search(prompt) else 0.0 for cue in _CUES]


def statistics_matrix(prompts: Sequence[str]) -> NDArray[np.float64]:
    """Rows of ``prompt_statistics`` for many prompts."""
    return np.asarray([prompt_statistics(p) for p in prompts], dtype=np.float64)
