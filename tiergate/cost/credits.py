"""Platform credits: what a request costs in a platform's own unit.

A credit plan names a baseline model, a multiplier per model and the USD price of one credit.
A platform-billed request on model M with usage U consumes

    credits = cost_of(U, baseline) x multiplier(M) / usd_per_credit

exactly (Decimal; a division that does not terminate, e.g. by $0.03, is rounded to 28
significant digits by the default Decimal context, far below a millionth of a credit).
"Haiku 4.5 x0.3" thus means: a Haiku request costs 0.3 of what the same tokens would cost on
the baseline. The baseline's cost includes its cache and batch
rates, so caching and batch discounts carry into credits. Because credits go through the
baseline's prices, a model with no USD price of its own (DeepSeek V4 Flash here) still has a
credit price.

- Bring-your-own-key calls are paid by the caller's own provider account: 0 credits.
- A model the plan does not list has no credit price: None, never 0.
- The baseline is priced on the tokens alone: service tiers, inference geography and
  server-tool fees are the answering provider's, not the baseline's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiergate.catalog.models import ModelInfo
from tiergate.cost.engine import tokens_only, usd_of
from tiergate.errors import ConfigError, TiergateError
from tiergate.types import Usage

ZERO = Decimal(0)


class _PlanSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str
    usd_per_credit: Decimal = Field(gt=0)
    multipliers: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class CreditPlan:
    """``multipliers`` is keyed by canonical model id (aliases resolved when the plan loads)."""

    baseline: ModelInfo
    usd_per_credit: Decimal
    multipliers: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], resolve: Callable[[str], ModelInfo]) -> CreditPlan:
        """Build from the config's ``credits:`` section, e.g.::

            credits:
              baseline: claude-sonnet-4-6
              usd_per_credit: "0.01"
              multipliers: {claude-sonnet-4-6: "1", claude-haiku-4-5: "0.3"}

        ``resolve(name) -> ModelInfo`` maps the plan's model names (aliases allowed)."""
        try:
            spec = _PlanSpec.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"credits: {problems}") from None
        try:
            baseline = resolve(spec.baseline)
            multipliers = {resolve(name).id: value for name, value in spec.multipliers.items()}
        except TiergateError as exc:
            raise ConfigError(f"credits: {exc}") from None
        for model_id, value in multipliers.items():
            if value < 0:
                raise ConfigError(f"credits: multipliers.{model_id}: must be >= 0")
        if baseline.pricing is None:
            raise ConfigError(
                f"credits: baseline: {baseline.id!r} is unpriced; credits are priced through "
                "the baseline, so it needs a price"
            )
        return cls(baseline, spec.usd_per_credit, multipliers)


def credits_of(
    usage: Usage, model: ModelInfo, plan: CreditPlan, *, byok: bool, batch: bool = False
) -> Decimal | None:
    """Credits one request consumed (see the module docstring for the formula)."""
    if byok:
        return ZERO
    multiplier = plan.multipliers.get(model.id)
    if multiplier is None:
        return None
    baseline = usd_of(tokens_only(usage), plan.baseline, batch=batch)
    if baseline is None:
        return None
    return (baseline * multiplier / plan.usd_per_credit).normalize()
