"""Workload projections: what N requests a day of a given shape cost on each model.

A month is 30 days (a planning convention: say so next to every monthly figure). With a cached
prefix, each request's first ``cached_prefix_tokens`` are a cache read with probability
``cache_hit_rate`` and a 5-minute cache write otherwise; the rest of the input is plain input.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tiergate.catalog.models import ModelInfo
from tiergate.cost.engine import cost_of
from tiergate.types import Usage

DAYS_PER_MONTH = 30


@dataclass(frozen=True, slots=True)
class Workload:
    requests_per_day: int
    input_tokens: int
    output_tokens: int
    cached_prefix_tokens: int = 0
    cache_hit_rate: Decimal = Decimal(0)
    batch: bool = False


@dataclass(frozen=True, slots=True)
class Projection:
    model: str
    per_request_usd: Decimal | None
    daily_usd: Decimal | None
    monthly_usd: Decimal | None
    # False when the cached prefix is shorter than the model's minimum cacheable length: the
    # provider silently skips caching there, so the projection prices it as plain input.
    cache_applied: bool = False


def project_workload(workload: Workload, model: ModelInfo) -> Projection:
    prefix = min(workload.cached_prefix_tokens, workload.input_tokens)
    minimum = model.min_cacheable_tokens or 0
    if prefix < minimum or "prompt_caching" not in model.capabilities:
        prefix = 0
    rest = workload.input_tokens - prefix
    hit = workload.cache_hit_rate
    per_hit = cost_of(
        Usage(
            input_tokens=rest, output_tokens=workload.output_tokens, cache_read_input_tokens=prefix
        ),
        model,
        batch=workload.batch,
    ).usd
    per_miss = cost_of(
        Usage(
            input_tokens=rest,
            output_tokens=workload.output_tokens,
            cache_creation_input_tokens=prefix,
        ),
        model,
        batch=workload.batch,
    ).usd
    if per_hit is None or per_miss is None:
        return Projection(model.id, None, None, None, prefix > 0)
    per_request = per_miss if prefix == 0 else hit * per_hit + (1 - hit) * per_miss
    daily = per_request * workload.requests_per_day
    return Projection(model.id, per_request, daily, daily * DAYS_PER_MONTH, prefix > 0)


def money(value: Decimal | None, max_places: int = 4) -> str:
    """Dollars exact to ``max_places`` (rounded half-up), trailing zeros trimmed to cents:
    $0.525, $1.575, $15.75 - figures a planning doc can quote without losing the last digit."""
    if value is None:
        return "unpriced"
    rounded = value.quantize(Decimal(1).scaleb(-max_places), ROUND_HALF_UP)
    text = format(rounded, ",f")
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return "$" + text
