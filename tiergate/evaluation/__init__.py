"""Measuring routers on outcome data: APGR / CPT curves, k-fold training, calibration, plots.

Metric definitions follow RouteLLM (see ``_curve`` for both curve methods); every figure names
its method. The plotting module imports matplotlib lazily.
"""

from tiergate.evaluation._calibrate import calibrate
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
from tiergate.evaluation._kfold import data_fingerprint, oof_scores, train_router
from tiergate.evaluation._plot import plot_curves
from tiergate.evaluation._report import oracle_scores, report, summarise

__all__ = [
    "METHODS",
    "Curve",
    "Method",
    "apgr",
    "calibrate",
    "cpt",
    "curve",
    "data_fingerprint",
    "decile_curve",
    "exact_curve",
    "oof_scores",
    "oracle_scores",
    "plot_curves",
    "report",
    "summarise",
    "train_router",
]
