"""Prices a finished request: every attempt's cost, credits and the baseline counterfactual.

Kept apart from the request pipeline so the same figures feed the response headers, the request
log and the metrics, computed once. An attempt is named by the shape billing reads
(``BilledAttempt``), so this module sits beside the prices, below the executor that makes the
attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tiergate.catalog import Catalog, ModelInfo
from tiergate.config import Settings
from tiergate.cost.credits import CreditPlan, credits_of
from tiergate.cost.engine import counterfactual_usd, usd_of
from tiergate.types import Usage


class _Deployment(Protocol):
    @property
    def byok(self) -> bool: ...


class BilledAttempt(Protocol):
    """What billing reads of an upstream attempt (``executor.Attempt``)."""

    @property
    def model(self) -> ModelInfo: ...
    @property
    def deployment(self) -> _Deployment: ...
    @property
    def outcome(self) -> str: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def estimated(self) -> bool: ...


def answer_usage(attempts: Sequence[BilledAttempt]) -> Usage | None:
    """What the answer the client got used: the last attempt with usage that is not a judge's
    call (a judge grades an answer after it arrived, so its calls may come last)."""
    for attempt in reversed(attempts):
        if attempt.usage is not None and attempt.outcome != "judge":
            return attempt.usage
    return None


@dataclass(slots=True)
class Bill:
    usd: Decimal | None  # None when some attempt ran on an unpriced model
    credits: Decimal | None
    baseline_usd: Decimal | None
    attempt_usd: list[Decimal | None]
    # What the answer the client got used (``answer_usage``), for the cache savings too.
    answer_usage: Usage | None
    # Some attempt's usage was estimated (tiergate/cost/estimate.py): the figure is too.
    estimated: bool = False

    def header(self) -> str:
        return "unpriced" if self.usd is None else format(self.usd, "f")


class Accountant:
    def __init__(
        self, catalog: Catalog, baseline: ModelInfo | None, plan: CreditPlan | None
    ) -> None:
        self._catalog = catalog
        self._baseline = baseline
        self._plan = plan

    @classmethod
    def from_settings(cls, settings: Settings, catalog: Catalog) -> Accountant:
        baseline = catalog.get(settings.baseline_model) if settings.baseline_model else None
        plan = (
            CreditPlan.from_config(settings.credits, catalog.resolve) if settings.credits else None
        )
        return cls(catalog, baseline, plan)

    def bill(
        self,
        attempts: Sequence[BilledAttempt],
        *,
        batch: bool = False,
        baseline: ModelInfo | None = None,
    ) -> Bill:
        """Every attempt priced; ``batch``: answered through a provider's batch API, so at
        the catalog's batch rates (and the baseline counterfactual at its batch rates too)."""
        total: Decimal | None = Decimal(0)
        credits: Decimal | None = Decimal(0) if self._plan is not None else None
        per_attempt: list[Decimal | None] = []
        estimated = False
        for attempt in attempts:
            usage = attempt.usage
            if usage is None:
                per_attempt.append(Decimal(0))  # failed before any use (no answer, no stream)
                continue
            estimated = estimated or attempt.estimated
            usd = usd_of(usage, attempt.model, batch=batch)
            per_attempt.append(usd)
            total = None if total is None or usd is None else total + usd
            if credits is not None and self._plan is not None:
                used = credits_of(
                    usage, attempt.model, self._plan, byok=attempt.deployment.byok, batch=batch
                )
                credits = None if used is None else credits + used
        # The counterfactual is "this request sent once to the baseline": the answering
        # attempt's usage priced at the baseline's rates (escalation and judge attempts
        # don't count).
        answered = answer_usage(attempts)
        against = baseline or self._baseline
        counterfactual: Decimal | None = None
        if answered is not None and against is not None:
            counterfactual = counterfactual_usd(answered, against, batch=batch)
        return Bill(total, credits, counterfactual, per_attempt, answered, estimated)
