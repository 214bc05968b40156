"""Catalog entries: what a model is, what it can do, and what it costs, as exact Decimals.

Two layers, on purpose:

- ``ModelSpec`` / ``PricingSpec`` (pydantic, ``extra="forbid"``, in ``config/models.py``) validate
  what a person wrote in ``models.yaml`` or in the ``models:`` list of their config. Prices there
  are USD per million tokens, written as strings so they load as exact Decimals.
- ``ModelInfo`` / ``Pricing`` / ``Rates`` (frozen dataclasses) are what the gateway uses on every
  request. Rates are stored *per token* (already divided by a million) so pricing a request is
  one multiply per usage field, with nothing converted or looked up on the hot path.

Each model carries its own rates, never multipliers: Anthropic's 1.25x / 2x / 0.1x cache rules
and the 0.5x batch discount are facts about today's Anthropic list prices, not laws, and other
providers price caching differently (OpenAI charges nothing extra to write; Gemini bills storage).
Where an entry leaves a rate out, nothing is invented: a missing cache rate is billed at the
input rate (no discount, no premium) and a missing batch table means batch usage is billed at the
standard rates. The one derived table: a model with a batch table and a long-context table but no
long-context batch table prices batch requests over the threshold at the long-context rates
scaled by the batch table's own ratio to the standard one, field by field (both Anthropic and
OpenAI apply their batch discount to long-context rates too).

Modifiers the providers publish as multipliers stay multipliers, applied to every token rate of
the table in use: ``service_tiers`` (OpenAI ``priority`` / ``flex``, by the tier the answer reports)
and ``inference_geo`` (Anthropic's US-only inference). Server-tool fees (``server_tools``) are USD
per 1,000 calls; a tool listed with no price (``null``) makes a request that used it unpriced.
``docs/cost.md`` states these rules and their sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tiergate.config.models import ModelSpec, PricingSpec, RatesSpec

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token (already divided by a million), so cost is one multiply per field."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal

    @classmethod
    def from_spec(cls, spec: RatesSpec) -> Rates:
        def per_token(value: Decimal | None) -> Decimal:
            return (spec.input if value is None else value) / MILLION

        return cls(
            spec.input / MILLION,
            spec.output / MILLION,
            per_token(spec.cache_write_5m),
            per_token(spec.cache_write_1h),
            per_token(spec.cache_read),
        )

    def per_million(self) -> dict[str, Decimal]:
        """The table as written in the data file (USD per million tokens), for display."""
        return {
            "input": (self.input * MILLION).normalize(),
            "output": (self.output * MILLION).normalize(),
            "cache_write_5m": (self.cache_write_5m * MILLION).normalize(),
            "cache_write_1h": (self.cache_write_1h * MILLION).normalize(),
            "cache_read": (self.cache_read * MILLION).normalize(),
        }


def _scaled(long: Rates, batch: Rates, standard: Rates) -> Rates:
    """``long`` with each field scaled by ``batch / standard`` (that field's batch discount)."""

    def one(name: str) -> Decimal:
        base: Decimal = getattr(standard, name)
        value: Decimal = getattr(long, name)
        return value * getattr(batch, name) / base if base else value

    return Rates(*(one(name) for name in _RATE_FIELDS))


_RATE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
_NO_MODIFIERS: dict[str, Decimal] = {}
_NO_FEES: dict[str, Decimal | None] = {}


@dataclass(frozen=True, slots=True)
class Pricing:
    """A model's rate tables. ``batch`` is None when the model has no batch price (batch usage
    is then billed at ``standard``); ``long_context`` is None when the model has no premium.
    ``server_tools`` holds USD per call (None: unpriced)."""

    standard: Rates
    batch: Rates | None = None
    long_context: Rates | None = None
    long_context_batch: Rates | None = None
    long_context_threshold: int | None = None
    service_tiers: dict[str, Decimal] = field(default_factory=lambda: _NO_MODIFIERS)
    inference_geo: dict[str, Decimal] = field(default_factory=lambda: _NO_MODIFIERS)
    server_tools: dict[str, Decimal | None] = field(default_factory=lambda: _NO_FEES)

    @classmethod
    def from_spec(cls, spec: PricingSpec) -> Pricing:
        long = spec.long_context
        standard = Rates.from_spec(spec)
        batch = Rates.from_spec(spec.batch) if spec.batch is not None else None
        long_rates = Rates.from_spec(long) if long is not None else None
        long_batch: Rates | None = None
        if long is not None and long.batch is not None:
            long_batch = Rates.from_spec(long.batch)
        elif long_rates is not None and batch is not None:
            long_batch = _scaled(long_rates, batch, standard)
        return cls(
            standard=standard,
            batch=batch,
            long_context=long_rates,
            long_context_batch=long_batch,
            long_context_threshold=long.threshold_tokens if long is not None else None,
            service_tiers=dict(spec.service_tiers),
            inference_geo=dict(spec.inference_geo),
            server_tools={
                name: None if per_1000 is None else per_1000 / 1000
                for name, per_1000 in spec.server_tools.items()
            },
        )

    def rates(self, total_input_tokens: int, *, batch: bool) -> Rates:
        """The table that prices a request of this many input tokens (all kinds together)."""
        threshold = self.long_context_threshold
        if (
            self.long_context is not None
            and threshold is not None
            and total_input_tokens > threshold
        ):
            if batch and self.long_context_batch is not None:
                return self.long_context_batch
            return self.long_context
        if batch and self.batch is not None:
            return self.batch
        return self.standard


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model as the gateway sees it. ``pricing`` None means *unpriced*: costs are reported as
    unknown, never as $0 (``local/smollm2-135m`` is priced, at zero)."""

    id: str
    provider: str
    context_window: int
    max_output: int
    capabilities: frozenset[str]
    pricing: Pricing | None
    snapshot: str | None = None
    aliases: tuple[str, ...] = ()
    min_cacheable_tokens: int | None = None
    price_source: str | None = None
    price_as_of: str | None = None

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ModelInfo:
        return cls(
            id=spec.id,
            provider=spec.provider,
            context_window=spec.context_window,
            max_output=spec.max_output,
            capabilities=spec.capabilities,
            pricing=Pricing.from_spec(spec.pricing) if spec.pricing is not None else None,
            snapshot=spec.snapshot,
            aliases=spec.aliases,
            min_cacheable_tokens=spec.min_cacheable_tokens,
            price_source=spec.price_source,
            price_as_of=str(spec.price_as_of) if spec.price_as_of is not None else None,
        )

    @property
    def priced(self) -> bool:
        return self.pricing is not None

    def input_price(self) -> Decimal | None:
        """USD per million input tokens (for ordering models by cost)."""
        return self.pricing.standard.input * MILLION if self.pricing is not None else None
