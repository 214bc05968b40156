"""A router learned from per-prompt outcome data (RouteLLM-style).

``LearnedRouter.score(prompt)`` estimates how much the strong model's answer beats the weak
one's on this prompt; ``decide(prompt)`` compares it with a calibrated threshold. Training,
cross-validation and calibration live in ``tiergate.evaluation``; this package holds what the
gateway needs at run time. Importing it loads scikit-learn, never torch (the optional
sentence-embedding featuriser imports torch on first use).
"""

from tiergate.routing.learned._component import DEFAULT_SPEC, parse_spec
from tiergate.routing.learned._data import (
    ModelPair,
    OutcomeData,
    OutcomeDataError,
    choose_pair,
    load_outcomes,
    parse_lines,
)
from tiergate.routing.learned._file import RouterFileError, read_header
from tiergate.routing.learned._router import LearnedRouter, fit

__all__ = [
    "DEFAULT_SPEC",
    "LearnedRouter",
    "ModelPair",
    "OutcomeData",
    "OutcomeDataError",
    "RouterFileError",
    "choose_pair",
    "fit",
    "load_outcomes",
    "parse_lines",
    "parse_spec",
    "read_header",
]
