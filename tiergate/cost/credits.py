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

from pydantic import ValidationError

from tiergate.catalog.models import ModelInfo
from tiergate.config import problem
from tiergate.config.credits import CreditsSpec
from tiergate.cost.engine import tokens_only, usd_of
from tiergate.errors import ConfigError, Loc, TiergateError, key_path
from tiergate.types import Usage

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CreditPlan:
    """``multipliers`` is keyed by canonical model id (aliases resolved when the plan loads)."""

    baseline: ModelInfo
    usd_per_credit: Decimal
    multipliers: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, raw: CreditsSpec | Mapping[str, Any], resolve: Callable[[str], ModelInfo]
    ) -> CreditPlan:
        """Build from the config's ``credits:`` section, e.g.::

            credits:
              baseline: claude-sonnet-4-6
              usd_per_credit: "0.01"
              multipliers: {claude-sonnet-4-6: "1", claude-haiku-4-5: "0.3"}

        ``resolve(name) -> ModelInfo`` maps the plan's model names (aliases allowed)."""
        try:
            spec = raw if isinstance(raw, CreditsSpec) else CreditsSpec.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{key_path(('credits', *e['loc']))}: {problem(e, CreditsSpec)}"
                for e in exc.errors()
            )
            raise ConfigError(problems) from None
        baseline = _resolve(resolve, spec.baseline, ("credits", "baseline"))
        multipliers: dict[str, Decimal] = {}
        for name, value in spec.multipliers.items():
            where = ("credits", "multipliers", name)
            model = _resolve(resolve, name, where)
            if value < 0:
                raise ConfigError("must be >= 0", where)
            multipliers[model.id] = value
        if baseline.pricing is None:
            raise ConfigError(
                f"{baseline.id!r} is unpriced; credits are priced through the baseline, so it "
                "needs a price",
                ("credits", "baseline"),
            )
        return cls(baseline, spec.usd_per_credit, multipliers)


def _resolve(resolve: Callable[[str], ModelInfo], name: str, where: Loc) -> ModelInfo:
    try:
        return resolve(name)
    except TiergateError as exc:
        raise ConfigError(str(exc), where) from None


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
