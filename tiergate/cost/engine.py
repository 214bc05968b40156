"""Cost of one request from its usage, in exact Decimals.

Usage fields are as Anthropic reports them: ``input_tokens`` excludes cache reads and writes,
writes are split by TTL. Each component is priced at the model's own rate; the long-context
rate applies to the whole request when its total input (input + cache reads + writes) passes
the model's threshold, as Anthropic bills it; batch jobs use the batch rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tiergate.catalog.models import ModelInfo, Rates
from tiergate.types import Usage

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Cost:
    """``usd`` is None when the model is unpriced: shown as such, never as $0."""

    usd: Decimal | None
    input: Decimal = ZERO
    output: Decimal = ZERO
    cache_write_5m: Decimal = ZERO
    cache_write_1h: Decimal = ZERO
    cache_read: Decimal = ZERO

    @property
    def priced(self) -> bool:
        return self.usd is not None


UNPRICED = Cost(None)


def rates_for(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Rates | None:
    pricing = model.pricing
    if pricing is None:
        return None
    if batch:
        return pricing.batch
    threshold = pricing.long_context_threshold
    if (
        pricing.long_context is not None
        and threshold is not None
        and usage.total_input() > threshold
    ):
        return pricing.long_context
    return pricing.standard


def cost_of(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Cost:
    rates = rates_for(usage, model, batch=batch)
    if rates is None:
        return UNPRICED
    five, hour = usage.cache_writes_by_ttl()
    parts = (
        usage.input_tokens * rates.input,
        usage.output_tokens * rates.output,
        five * rates.cache_write_5m,
        hour * rates.cache_write_1h,
        usage.cache_read_input_tokens * rates.cache_read,
    )
    total = sum(parts, ZERO)
    return Cost(total.normalize() if total else ZERO, *parts)


def counterfactual_usd(usage: Usage, baseline: ModelInfo) -> Decimal | None:
    """What the same usage would have cost on ``baseline``."""
    return cost_of(usage, baseline).usd


def cache_savings_usd(usage: Usage, model: ModelInfo) -> Decimal | None:
    """Money cache reads saved against paying full input for those tokens, less what cache
    writes cost above plain input. Negative when writes did not pay off (yet)."""
    rates = rates_for(usage, model)
    if rates is None:
        return None
    five, hour = usage.cache_writes_by_ttl()
    saved = usage.cache_read_input_tokens * (rates.input - rates.cache_read)
    extra = five * (rates.cache_write_5m - rates.input) + hour * (
        rates.cache_write_1h - rates.input
    )
    return (saved - extra).normalize() if saved or extra else ZERO
