"""A router learned from per-prompt outcome data (RouteLLM-style), and an answer validator.

``LearnedRouter.score(prompt)`` estimates how much the strong model's answer beats the weak
one's on this prompt; ``decide(prompt)`` compares it with a calibrated threshold, ``choose``
picks the cheapest good-enough model among several. ``AnswerValidator`` scores a cheap answer
after the fact, for cascades. Training, cross-validation and calibration live in
``tiergate.evaluation``; this package holds what the gateway needs at run time. Importing it
loads scikit-learn, never torch (the optional sentence-embedding featuriser imports torch on
first use).
"""

from tiergate.routing.learned._answer import (
    AnswerValidator,
    answer_features,
    fit_answer_model,
    fit_validator,
)
from tiergate.routing.learned._component import DEFAULT_SPEC, parse_spec
from tiergate.routing.learned._data import (
    ModelPair,
    OutcomeData,
    OutcomeDataError,
    Scale,
    choose_pair,
    load_outcomes,
    parse_lines,
    parse_scale,
)
from tiergate.routing.learned._file import RouterFileError, read_header
from tiergate.routing.learned._router import LearnedRouter, fit, fit_models, prompt_hashes

__all__ = [
    "DEFAULT_SPEC",
    "AnswerValidator",
    "LearnedRouter",
    "ModelPair",
    "OutcomeData",
    "OutcomeDataError",
    "RouterFileError",
    "Scale",
    "answer_features",
    "choose_pair",
    "fit",
    "fit_answer_model",
    "fit_models",
    "fit_validator",
    "load_outcomes",
    "parse_lines",
    "parse_scale",
    "parse_spec",
    "prompt_hashes",
    "read_header",
]
