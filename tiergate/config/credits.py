"""The YAML shape of ``credits:`` (a platform's credit plan), validated with the settings so a
bad plan names its key and line at load; ``cost.credits.CreditPlan`` resolves its model names
against the catalog."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class CreditsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str
    usd_per_credit: Decimal = Field(gt=0)
    # Model name (id or alias) -> credits relative to the baseline's cost of the same tokens.
    multipliers: dict[str, Decimal]
