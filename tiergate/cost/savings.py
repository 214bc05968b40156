"""What prompt caching did for a request or a workload: hit rate and money saved.

Savings are measured against the same tokens sent without caching, on the same model and rate
table: every cache read would have been plain input, and every cache write would have been
plain input too. So

    saved = reads x (input rate - read rate) - writes_5m x (5m write rate - input rate)
                                             - writes_1h x (1h write rate - input rate)

which is negative while writes have not yet been paid back by reads (one write at 1.25x needs
about 0.28 reads at 0.1x to break even on Anthropic models).
"""

from __future__ import annotations

from decimal import Decimal

from tiergate.catalog.models import ModelInfo
from tiergate.cost.engine import ZERO, rates_for
from tiergate.types import Usage


def cache_savings_usd(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Decimal | None:
    """USD that caching saved on ``usage`` (negative if writes cost more than reads saved);
    None for an unpriced model."""
    rates = rates_for(usage, model, batch=batch)
    if rates is None:
        return None
    if not usage.touches_cache():
        return ZERO
    five, hour = usage.cache_writes_by_ttl()
    saved = usage.cache_read_input_tokens * (rates.input - rates.cache_read)
    extra = five * (rates.cache_write_5m - rates.input)
    extra += hour * (rates.cache_write_1h - rates.input)
    return (saved - extra).normalize() if saved or extra else ZERO


def cache_hit_rate(usage: Usage) -> Decimal | None:
    """Share of input tokens served from the cache (reads / all input); None with no input."""
    total = usage.total_input()
    if total == 0:
        return None
    return Decimal(usage.cache_read_input_tokens) / Decimal(total)
