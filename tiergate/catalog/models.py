"""Catalog entries: what a model is, what it can do, what it costs (as exact Decimals)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MILLION = Decimal(1_000_000)
CAPABILITIES = frozenset({"vision", "tools", "thinking", "json_mode", "prompt_caching"})


class _Rates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_read: Decimal | None = None


class LongContextSpec(_Rates):
    threshold_tokens: int = Field(gt=0)


class PricingSpec(_Rates):
    batch_input: Decimal | None = None
    batch_output: Decimal | None = None
    long_context: LongContextSpec | None = None


class ModelSpec(BaseModel):
    """One entry of the data file or of a user's ``models:`` list, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    snapshot: str | None = None
    aliases: tuple[str, ...] = ()
    provider: str
    context_window: int = Field(gt=0)
    max_output: int = Field(gt=0)
    capabilities: frozenset[str] = frozenset()
    min_cacheable_tokens: int | None = None
    pricing: PricingSpec | None = None
    price_source: str | None = None
    price_as_of: Any = None


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token (already divided by a million), so cost is one multiply per field."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal

    @classmethod
    def from_spec(cls, spec: _Rates) -> Rates:
        # A model without its own cache rates follows Anthropic's multipliers on its input rate.
        write_5m = (
            spec.cache_write_5m if spec.cache_write_5m is not None else spec.input * Decimal("1.25")
        )
        write_1h = spec.cache_write_1h if spec.cache_write_1h is not None else spec.input * 2
        read = spec.cache_read if spec.cache_read is not None else spec.input * Decimal("0.1")
        return cls(
            spec.input / MILLION,
            spec.output / MILLION,
            write_5m / MILLION,
            write_1h / MILLION,
            read / MILLION,
        )


@dataclass(frozen=True, slots=True)
class Pricing:
    standard: Rates
    batch: Rates
    long_context: Rates | None = None
    long_context_threshold: int | None = None

    @classmethod
    def from_spec(cls, spec: PricingSpec) -> Pricing:
        standard = Rates.from_spec(spec)
        half = Decimal("0.5")
        batch_spec = _Rates(
            input=spec.batch_input if spec.batch_input is not None else spec.input * half,
            output=spec.batch_output if spec.batch_output is not None else spec.output * half,
            cache_write_5m=(spec.cache_write_5m or spec.input * Decimal("1.25")) * half,
            cache_write_1h=(spec.cache_write_1h or spec.input * 2) * half,
            cache_read=(spec.cache_read if spec.cache_read is not None else spec.input / 10) * half,
        )
        long = spec.long_context
        return cls(
            standard,
            Rates.from_spec(batch_spec),
            Rates.from_spec(long) if long is not None else None,
            long.threshold_tokens if long is not None else None,
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
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

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def input_price(self) -> Decimal | None:
        """USD per million input tokens (for ordering models by cost)."""
        return self.pricing.standard.input * MILLION if self.pricing is not None else None
