"""Measuring routers on outcome data: APGR / CPT curves, k-fold training, calibration, plots.

Metric definitions follow RouteLLM (see ``_curve`` for both curve methods); every figure names
its method. The plotting module imports matplotlib lazily.
"""

from tiergate.evaluation._calibrate import calibrate, score_prompts
from tiergate.evaluation._choice import choice_report
from tiergate.evaluation._curve import (
    METHODS,
    Curve,
    Method,
    apgr,
    cpt,
    curve,
    decile_curve,
    exact_curve,
)
from tiergate.evaluation._kfold import (
    cheap_answers,
    data_fingerprint,
    oof_qualities,
    oof_scores,
    oof_validator_scores,
    train_router,
    train_validator,
)
from tiergate.evaluation._plot import plot_curves
from tiergate.evaluation._progress import Progress, quiet
from tiergate.evaluation._report import oracle_scores, report, summarise

__all__ = [
    "METHODS",
    "Curve",
    "Method",
    "Progress",
    "apgr",
    "calibrate",
    "cheap_answers",
    "choice_report",
    "cpt",
    "curve",
    "data_fingerprint",
    "decile_curve",
    "exact_curve",
    "oof_qualities",
    "oof_scores",
    "oof_validator_scores",
    "oracle_scores",
    "plot_curves",
    "quiet",
    "report",
    "score_prompts",
    "summarise",
    "train_router",
    "train_validator",
]
