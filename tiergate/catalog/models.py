"""Catalog entries: what a model is, what it can do, and what it costs, as exact Decimals.

Two layers, on purpose:

- ``ModelSpec`` / ``PricingSpec`` (pydantic, ``extra="forbid"``) validate what a person wrote in
  ``models.yaml`` or in the ``models:`` list of their config. Prices there are USD per million
  tokens, written as strings so they load as exact Decimals.
- ``ModelInfo`` / ``Pricing`` / ``Rates`` (frozen dataclasses) are what the gateway uses on every
  request. Rates are stored *per token* (already divided by a million) so pricing a request is
  one multiply per usage field, with nothing converted or looked up on the hot path.

Each model carries its own rates, never multipliers: Anthropic's 1.25x / 2x / 0.1x cache rules
and the 0.5x batch discount are facts about today's Anthropic list prices, not laws, and other
providers price caching differently (OpenAI charges nothing extra to write; Gemini bills storage).
Where an entry leaves a rate out, nothing is invented: a missing cache rate is billed at the
input rate (no discount, no premium) and a missing batch table means batch usage is billed at the
standard rates. ``docs/cost.md`` states these rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MILLION = Decimal(1_000_000)
# ``system_messages``: takes ``role: "system"`` messages inside the conversation (Anthropic's
# mid-conversation system messages); other Anthropic models get them folded into the user turn.
CAPABILITIES = frozenset(
    {"vision", "tools", "thinking", "json_mode", "prompt_caching", "system_messages"}
)

_Price = Decimal  # USD per million tokens; pydantic parses "0.10" exactly


class RatesSpec(BaseModel):
    """One rate table, USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: _Price = Field(ge=0)
    output: _Price = Field(ge=0)
    cache_write_5m: _Price | None = Field(default=None, ge=0)
    cache_write_1h: _Price | None = Field(default=None, ge=0)
    cache_read: _Price | None = Field(default=None, ge=0)

    @field_validator(
        "input", "output", "cache_write_5m", "cache_write_1h", "cache_read", mode="before"
    )
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        # A YAML float (0.1) has already lost its exact value; insist on a string or an integer.
        if isinstance(value, float):
            raise ValueError(f'write prices as quoted strings ("{value}"), not floats')
        return value


class LongContextSpec(RatesSpec):
    """Rates that replace the standard ones for a whole request once its total input (plain +
    cache reads + cache writes) exceeds ``threshold_tokens``."""

    threshold_tokens: int = Field(gt=0)
    batch: RatesSpec | None = None


class PricingSpec(RatesSpec):
    batch: RatesSpec | None = None
    long_context: LongContextSpec | None = None


class ModelSpec(BaseModel):
    """One entry of the data file or of a user's ``models:`` list, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    snapshot: str | None = None
    aliases: tuple[str, ...] = ()
    provider: str
    context_window: int = Field(gt=0)
    max_output: int = Field(gt=0)
    capabilities: frozenset[str] = frozenset()
    min_cacheable_tokens: int | None = Field(default=None, gt=0)
    pricing: PricingSpec | None = None
    price_source: str | None = None
    price_as_of: Any = None
    notes: str | None = None


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


@dataclass(frozen=True, slots=True)
class Pricing:
    """A model's rate tables. ``batch`` is None when the model has no batch price (batch usage
    is then billed at ``standard``); ``long_context`` is None when the model has no premium."""

    standard: Rates
    batch: Rates | None = None
    long_context: Rates | None = None
    long_context_batch: Rates | None = None
    long_context_threshold: int | None = None

    @classmethod
    def from_spec(cls, spec: PricingSpec) -> Pricing:
        long = spec.long_context
        return cls(
            standard=Rates.from_spec(spec),
            batch=Rates.from_spec(spec.batch) if spec.batch is not None else None,
            long_context=Rates.from_spec(long) if long is not None else None,
            long_context_batch=(
                Rates.from_spec(long.batch) if long is not None and long.batch is not None else None
            ),
            long_context_threshold=long.threshold_tokens if long is not None else None,
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

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def input_price(self) -> Decimal | None:
        """USD per million input tokens (for ordering models by cost)."""
        return self.pricing.standard.input * MILLION if self.pricing is not None else None
