"""Cost of one request from its usage, in exact Decimals.

Usage fields are as Anthropic reports them: ``input_tokens`` excludes cache reads and writes,
and writes are split by TTL (``cache_creation.ephemeral_5m_input_tokens`` /
``ephemeral_1h_input_tokens``; an upstream that does not split them has all writes counted as
5-minute writes, see ``Usage.cache_writes_by_ttl``). Each component is priced at the model's own
per-token rate, precomputed when the catalog loaded, so ``cost_of`` is five multiplications and
no parsing: it runs on every request.

Which rate table applies (see ``Pricing.rates``): the long-context table when the request's
total input (input + cache writes + cache reads) passes the model's threshold — for the whole
request, as Anthropic and OpenAI bill it — and the batch table for batch jobs. No rounding
happens here; a Decimal of USD goes to the header and the log as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tiergate.catalog.models import ModelInfo, Rates
from tiergate.types import Usage

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request cost. ``usd`` is None when the model is unpriced: shown as such, never
    as $0; the components are then zero and meaningless."""

    usd: Decimal | None
    input: Decimal = ZERO
    output: Decimal = ZERO
    cache_write_5m: Decimal = ZERO
    cache_write_1h: Decimal = ZERO
    cache_read: Decimal = ZERO

    @property
    def priced(self) -> bool:
        return self.usd is not None

    def breakdown(self) -> dict[str, Decimal]:
        """Per-component USD, for the request log and reports."""
        return {
            "input": self.input,
            "output": self.output,
            "cache_write_5m": self.cache_write_5m,
            "cache_write_1h": self.cache_write_1h,
            "cache_read": self.cache_read,
        }

    def __add__(self, other: Cost) -> Cost:
        """Sum of two costs (attempts of one request, requests of a report). Unpriced anywhere
        makes the total unpriced: a partial sum would understate the bill."""
        if self.usd is None or other.usd is None:
            return UNPRICED
        return Cost(
            self.usd + other.usd,
            self.input + other.input,
            self.output + other.output,
            self.cache_write_5m + other.cache_write_5m,
            self.cache_write_1h + other.cache_write_1h,
            self.cache_read + other.cache_read,
        )


UNPRICED = Cost(None)
FREE = Cost(ZERO)


def rates_for(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Rates | None:
    """The rate table that prices ``usage`` on ``model``; None when the model is unpriced."""
    pricing = model.pricing
    if pricing is None:
        return None
    return pricing.rates(usage.total_input(), batch=batch)


def cost_of(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Cost:
    """Exact USD cost of ``usage`` on ``model`` (batch rates when ``batch``)."""
    rates = rates_for(usage, model, batch=batch)
    if rates is None:
        return UNPRICED
    input_usd = usage.input_tokens * rates.input
    output_usd = usage.output_tokens * rates.output
    total = input_usd + output_usd
    if not usage.touches_cache():
        # Most requests touch no cache: skip three Decimal products of zero (this runs on
        # every request, and for its baseline counterfactual too).
        return Cost(total.normalize(), input_usd, output_usd)
    five, hour = usage.cache_writes_by_ttl()
    write_5m = five * rates.cache_write_5m
    write_1h = hour * rates.cache_write_1h
    read = usage.cache_read_input_tokens * rates.cache_read
    # normalize() so the header reads 0.00105, not 0.001050000 (the value is the same).
    total = (total + write_5m + write_1h + read).normalize()
    return Cost(total, input_usd, output_usd, write_5m, write_1h, read)


def usd_of(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Decimal | None:
    """``cost_of(...).usd`` without the per-component breakdown: the same products summed in
    the same order, so the same exact Decimal. Billing needs only the total, on every request
    and again for its baseline counterfactual."""
    rates = rates_for(usage, model, batch=batch)
    if rates is None:
        return None
    total = usage.input_tokens * rates.input + usage.output_tokens * rates.output
    if usage.touches_cache():
        five, hour = usage.cache_writes_by_ttl()
        total = (
            total
            + five * rates.cache_write_5m
            + hour * rates.cache_write_1h
            + usage.cache_read_input_tokens * rates.cache_read
        )
    return total.normalize()


def counterfactual_usd(usage: Usage, baseline: ModelInfo, *, batch: bool = False) -> Decimal | None:
    """What the same usage would have cost on ``baseline`` ("always-Sonnet would have cost $Y").

    The token counts are taken as they are: the baseline is assumed to read and write the same
    number of tokens, including the same cache hits. Tokenizers differ by a few percent between
    vendors; that approximation is documented in docs/cost.md."""
    return usd_of(usage, baseline, batch=batch)
