"""Cost of one request from its usage, in exact Decimals.

Usage fields are as Anthropic reports them: ``input_tokens`` excludes cache reads and writes,
and writes are split by TTL (``cache_creation.ephemeral_5m_input_tokens`` /
``ephemeral_1h_input_tokens``; an upstream that does not split them has all writes counted as
5-minute writes, see ``Usage.cache_writes_by_ttl``). Each component is priced at the model's own
per-token rate, precomputed when the catalog loaded, so ``cost_of`` is five multiplications and
no parsing: it runs on every request.

Which rate table applies (see ``Pricing.rates``): the long-context table when the request's
total input (input + cache writes + cache reads) passes the model's threshold — for the whole
request, as Anthropic and OpenAI bill it — and the batch table for batch jobs.

Then, only for the few answers that report them (``Usage.has_modifiers``):
- the service tier the answer was served on (``priority``, ``flex``) and where inference ran
  (``inference_geo: "us"``) multiply every token component by the model's published
  multiplier; the standard names (``default``, ``standard``, ``auto``, ``batch``, ``global``)
  multiply by 1, and a tier or geography the model lists no price for makes the request
  unpriced rather than priced at the standard rate;
- server-tool calls add their per-call fee (``fees``), never multiplied; a tool the model
  lists as unpriced (or not at all) makes the request unpriced.
No rounding happens here; a Decimal of USD goes to the header and the log as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tiergate.catalog.models import ModelInfo, Pricing, Rates
from tiergate.types import Usage

ZERO = Decimal(0)
ONE = Decimal(1)
# Names the providers use for their standard service and geography: no modifier.
STANDARD_TIERS = frozenset({"default", "standard", "auto", "batch"})  # also speed "standard"
STANDARD_GEOS = frozenset({"global"})


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request cost. ``usd`` is None when the model is unpriced: shown as such, never
    as $0; the components are then zero and meaningless. Token components already include any
    tier or geography multiplier; ``fees`` are server-tool fees."""

    usd: Decimal | None
    input: Decimal = ZERO
    output: Decimal = ZERO
    cache_write_5m: Decimal = ZERO
    cache_write_1h: Decimal = ZERO
    cache_read: Decimal = ZERO
    fees: Decimal = ZERO

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
            "server_tools": self.fees,
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
            self.fees + other.fees,
        )


UNPRICED = Cost(None)
FREE = Cost(ZERO)


def rates_for(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Rates | None:
    """The rate table that prices ``usage`` on ``model``; None when the model is unpriced."""
    pricing = model.pricing
    if pricing is None:
        return None
    return pricing.rates(usage.total_input(), batch=batch)


def multiplier(usage: Usage, pricing: Pricing) -> Decimal | None:
    """The factor on every token rate for the answer's service tier and inference geography;
    None when the model has no published price for the one reported."""
    factor = ONE
    for tier in (usage.service_tier, usage.speed):  # Anthropic's fast mode is a tier too
        if tier and tier not in STANDARD_TIERS:
            by_tier = pricing.service_tiers.get(tier)
            if by_tier is None:
                return None
            factor *= by_tier
    geo = usage.inference_geo
    if geo and geo not in STANDARD_GEOS:
        by_geo = pricing.inference_geo.get(geo)
        if by_geo is None:
            return None
        factor *= by_geo
    return factor


def fees(usage: Usage, pricing: Pricing) -> Decimal | None:
    """Server-tool fees; None when a tool used has no per-call price for this model."""
    if not (usage.web_search_requests or usage.web_fetch_requests or usage.code_execution_requests):
        return ZERO
    total = ZERO
    for name, calls in usage.server_tool_calls().items():
        per_call = pricing.server_tools.get(name)
        if per_call is None:
            return None
        total += calls * per_call
    return total


def cost_of(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Cost:
    """Exact USD cost of ``usage`` on ``model`` (batch rates when ``batch``)."""
    rates = rates_for(usage, model, batch=batch)
    if rates is None:
        return UNPRICED
    factor, extra = ONE, ZERO
    if usage.has_modifiers():
        assert model.pricing is not None
        found, extra_fees = multiplier(usage, model.pricing), fees(usage, model.pricing)
        if found is None or extra_fees is None:
            return UNPRICED
        factor, extra = found, extra_fees
    input_usd = usage.input_tokens * rates.input * factor
    output_usd = usage.output_tokens * rates.output * factor
    total = input_usd + output_usd + extra
    if not usage.touches_cache():
        # Most requests touch no cache: skip three Decimal products of zero (this runs on
        # every request, and for its baseline counterfactual too).
        return Cost(total.normalize(), input_usd, output_usd, fees=extra)
    five, hour = usage.cache_writes_by_ttl()
    write_5m = five * rates.cache_write_5m * factor
    write_1h = hour * rates.cache_write_1h * factor
    read = usage.cache_read_input_tokens * rates.cache_read * factor
    # normalize() so the header reads 0.00105, not 0.001050000 (the value is the same).
    total = (total + write_5m + write_1h + read).normalize()
    return Cost(total, input_usd, output_usd, write_5m, write_1h, read, extra)


def usd_of(usage: Usage, model: ModelInfo, *, batch: bool = False) -> Decimal | None:
    """``cost_of(...).usd`` without the per-component breakdown: the same exact Decimal (the
    multiplier applied to the token sum equals the sum of the multiplied components, as the
    products are exact). Billing needs only the total, on every request and again for its
    baseline counterfactual."""
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
    if usage.has_modifiers():  # OpenAI answers name their tier ("default") on every call
        assert model.pricing is not None
        factor, extra = multiplier(usage, model.pricing), fees(usage, model.pricing)
        if factor is None or extra is None:
            return None
        if factor != ONE:
            total *= factor
        if extra:
            total += extra
    return total.normalize()


def counterfactual_usd(usage: Usage, baseline: ModelInfo, *, batch: bool = False) -> Decimal | None:
    """What the same usage would have cost on ``baseline`` ("always-Sonnet would have cost $Y").

    The token counts are taken as they are: the baseline is assumed to read and write the same
    number of tokens, including the same cache hits. Tokenizers differ by a few percent between
    vendors; that approximation is documented in docs/cost.md. Tiers, geography and server
    tools are the answering provider's; the baseline is priced on the tokens alone."""
    return usd_of(tokens_only(usage), baseline, batch=batch)


def tokens_only(usage: Usage) -> Usage:
    """``usage`` without its service tier, geography and server-tool calls."""
    if not usage.has_modifiers():
        return usage
    return Usage(
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_creation_input_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_5m,
        usage.cache_creation_1h,
        usage.reasoning_tokens,
    )
