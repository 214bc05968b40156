"""Carries out routing plans against providers. See ``run.py`` for the fallback order."""

from tiergate.cost.billing import answer_usage
from tiergate.executor.breaker import CircuitBreakers
from tiergate.executor.run import (
    Attempt,
    Executor,
    Outcome,
    StreamOutcome,
    validator_calls,
)

__all__ = [
    "Attempt",
    "CircuitBreakers",
    "Executor",
    "Outcome",
    "StreamOutcome",
    "answer_usage",
    "validator_calls",
]
