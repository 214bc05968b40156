"""Platform credits: what a request costs in a platform's own unit.

A credit plan names a baseline model, a multiplier per model and the USD price of one credit.
A request on model M consumes

    credits = cost of its usage at the baseline's rates x multiplier(M) / usd_per_credit

so "Haiku x0.3" means a Haiku request costs 0.3 of what the same tokens on the baseline would.
Bring-your-own-key calls are paid by the caller's provider account and consume no credits.
A model the plan does not list has no credit price (None), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tiergate.catalog.models import ModelInfo
from tiergate.cost.engine import cost_of
from tiergate.errors import ConfigError
from tiergate.types import Usage


class _PlanSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str
    usd_per_credit: Decimal = Field(gt=0)
    multipliers: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class CreditPlan:
    baseline: ModelInfo
    usd_per_credit: Decimal
    multipliers: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], resolve: Any) -> CreditPlan:
        """``resolve(name) -> ModelInfo`` maps the plan's model names (aliases allowed)."""
        try:
            spec = _PlanSpec.model_validate(dict(raw))
        except Exception as exc:
            raise ConfigError(f"credits: {exc}") from None
        return cls(
            resolve(spec.baseline),
            spec.usd_per_credit,
            {resolve(name).id: value for name, value in spec.multipliers.items()},
        )


def credits_of(usage: Usage, model: ModelInfo, plan: CreditPlan, *, byok: bool) -> Decimal | None:
    if byok:
        return Decimal(0)
    multiplier = plan.multipliers.get(model.id)
    baseline = cost_of(usage, plan.baseline).usd
    if multiplier is None or baseline is None:
        return None
    return (baseline * multiplier / plan.usd_per_credit).normalize()
