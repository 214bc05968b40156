"""Workload projections: what N requests a day of a given shape cost on each model.

A month is 30 days (``DAYS_PER_MONTH``), a planning convention stated next to every monthly
figure. Per request, with a cached prefix of P tokens and hit rate h:

- a hit reads the P prefix tokens from the cache (cache-read rate), with probability h;
- a miss writes them (5-minute or 1-hour cache-write rate, by ``cache_ttl``), with
  probability 1 - h;
- the rest of the input (input_tokens - P) is plain input, and output is output.

So per_request = h x cost(hit) + (1 - h) x cost(miss), exactly, in Decimals. When P is below the
model's minimum cacheable length, or the model has no prompt caching, the provider silently
caches nothing, so the whole input is priced as plain input and ``cache_applied`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from tiergate.catalog.models import ModelInfo
from tiergate.cost.engine import cost_of
from tiergate.types import Usage

DAYS_PER_MONTH = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    requests_per_day: int
    input_tokens: int
    output_tokens: int
    cached_prefix_tokens: int = 0
    cache_hit_rate: Decimal = Decimal(0)
    batch: bool = False
    cache_ttl: Literal["5m", "1h"] = "5m"


@dataclass(frozen=True, slots=True)
class Projection:
    model: str
    per_request_usd: Decimal | None
    daily_usd: Decimal | None
    monthly_usd: Decimal | None
    # False when no caching happens: no cached prefix asked for, the prefix is shorter than the
    # model's minimum cacheable length, or the model has no prompt caching.
    cache_applied: bool = False

    @property
    def priced(self) -> bool:
        return self.daily_usd is not None


def _cacheable_prefix(workload: Workload, model: ModelInfo) -> int:
    prefix = min(workload.cached_prefix_tokens, workload.input_tokens)
    if prefix <= 0 or "prompt_caching" not in model.capabilities:
        return 0
    if prefix < (model.min_cacheable_tokens or 0):
        return 0
    return prefix


def project_workload(workload: Workload, model: ModelInfo) -> Projection:
    """Per-request, daily and monthly USD of ``workload`` on ``model`` (None when unpriced)."""
    prefix = _cacheable_prefix(workload, model)
    rest = workload.input_tokens - prefix
    out = workload.output_tokens
    if prefix == 0:
        plain = Usage(input_tokens=workload.input_tokens, output_tokens=out)
        per_request = cost_of(plain, model, batch=workload.batch).usd
    else:
        five, hour = (prefix, 0) if workload.cache_ttl == "5m" else (0, prefix)
        hit = cost_of(
            Usage(input_tokens=rest, output_tokens=out, cache_read_input_tokens=prefix),
            model,
            batch=workload.batch,
        ).usd
        miss = cost_of(
            Usage(
                input_tokens=rest,
                output_tokens=out,
                cache_creation_input_tokens=prefix,
                cache_creation_5m=five,
                cache_creation_1h=hour,
            ),
            model,
            batch=workload.batch,
        ).usd
        rate = workload.cache_hit_rate
        per_request = None if hit is None or miss is None else rate * hit + (1 - rate) * miss
    if per_request is None:
        return Projection(model.id, None, None, None, prefix > 0)
    daily = per_request * workload.requests_per_day
    return Projection(
        model.id,
        per_request.normalize(),
        daily.normalize(),
        (daily * DAYS_PER_MONTH).normalize(),
        prefix > 0,
    )


def money(value: Decimal | None, max_places: int = 4) -> str:
    """Dollars to at most ``max_places`` decimals (rounded half-up), trailing zeros trimmed but
    never below cents: $0.525, $1.575, $15.75, $2.00 — figures a planning doc can quote."""
    if value is None:
        return "unpriced"
    rounded = value.quantize(Decimal(1).scaleb(-max_places), ROUND_HALF_UP)
    text = format(rounded, ",f")
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return "$" + text
