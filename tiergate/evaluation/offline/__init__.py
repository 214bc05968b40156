"""Offline evaluation: run models (or routes) over an evaluation set through the gateway's own
pipeline, score the answers, and say which model to use, with intervals.

``dataset`` reads the set, ``calls`` is the protocol a model call goes through (and the results
file that makes a killed run resume without paying twice), ``scorers`` and ``judge`` grade
answers, ``runner`` drives the run, ``stats`` and ``summary`` turn scores into figures and a
recommendation, ``render`` prints them, ``outcomes`` hands them to the learned router.
"""

from tiergate.evaluation.offline.calls import Answer, Caller, RecordedCalls
from tiergate.evaluation.offline.dataset import EvalDataError, EvalItem, load_items
from tiergate.evaluation.offline.judge import DistilledJudge, Judge, JudgeStats
from tiergate.evaluation.offline.runner import EvalRun, ItemScores, RunResult
from tiergate.evaluation.offline.scorers import SCORERS, make_scorer
from tiergate.evaluation.offline.summary import summarise

__all__ = [
    "SCORERS",
    "Answer",
    "Caller",
    "DistilledJudge",
    "EvalDataError",
    "EvalItem",
    "EvalRun",
    "ItemScores",
    "Judge",
    "JudgeStats",
    "RecordedCalls",
    "RunResult",
    "load_items",
    "make_scorer",
    "summarise",
]
