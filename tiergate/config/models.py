"""The YAML shape of a model entry: ``models:`` in the settings, and the built-in catalog's
``catalog/models.yaml``, validated with pydantic (``extra="forbid"``).

Why here, with the settings: a wrong type in a user's entry (a float price, an unknown
capability, a misspelt key) must stop ``load_settings`` itself, with the entry's key path and
line (``models[2].pricing.input (line 9): ...``) and the closest valid key for a typo, like any
other setting. What only the catalog can check, whether an entry with a new id gives every
field a model needs, is checked when ``catalog.load_catalog`` merges the entries into the
built-in ones (``ModelEntry.over``); that error carries its key path too.

Prices are USD per million tokens, written as strings so they load as exact Decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ``system_messages``: takes ``role: "system"`` messages inside the conversation (Anthropic's
# mid-conversation system messages); other Anthropic models get them folded into the user turn.
CAPABILITIES = frozenset(
    {"vision", "tools", "thinking", "json_mode", "prompt_caching", "system_messages"}
)

_Price = Decimal  # USD per million tokens; pydantic parses "0.10" exactly


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatesSpec(_Spec):
    """One rate table, USD per million tokens."""

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
    # Multipliers on every token rate, by the service tier the answer reports (OpenAI
    # ``service_tier``) and by where inference ran (Anthropic ``usage.inference_geo``).
    service_tiers: dict[str, _Price] = Field(default_factory=dict)
    inference_geo: dict[str, _Price] = Field(default_factory=dict)
    # USD per 1,000 server-tool calls (``web_search``, ``web_fetch``, ``code_execution``);
    # None: billed in a way one request cannot be priced by (explicitly unpriced).
    server_tools: dict[str, _Price | None] = Field(default_factory=dict)

    @field_validator("service_tiers", "inference_geo", "server_tools", mode="before")
    @classmethod
    def _no_float_values(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, float):
                    raise ValueError(f'{name}: write prices as quoted strings ("{item}")')
                if item is not None and not isinstance(item, (str, int, Decimal)):
                    raise ValueError(f"{name}: a price as a quoted string")
                if item is None:
                    continue
                try:  # Decimal raises InvalidOperation, which pydantic would not catch
                    price = Decimal(str(item))
                except InvalidOperation:
                    price = Decimal("NaN")
                if not price.is_finite():
                    raise ValueError(f"{name}: {item!r} is not a price")
                if price < 0:
                    raise ValueError(f"{name}: must be >= 0")
        return value


class ModelEntry(_Spec):
    """One entry of the settings' ``models:`` list. An ``id`` the catalog has changes only the
    fields the entry gives (``pricing`` is replaced whole, never merged with the old table);
    a new ``id`` adds a model and must give ``provider``, ``context_window`` and
    ``max_output``, which ``over`` checks, since only the catalog knows which ids exist."""

    id: str = Field(min_length=1)
    snapshot: str | None = None
    aliases: tuple[str, ...] = ()
    provider: str | None = None
    context_window: int | None = Field(default=None, gt=0)
    max_output: int | None = Field(default=None, gt=0)
    capabilities: frozenset[str] = frozenset()
    min_cacheable_tokens: int | None = Field(default=None, gt=0)
    # None (``pricing: null``): the model is unpriced, its costs reported as unknown.
    pricing: PricingSpec | None = None
    price_source: str | None = None
    price_as_of: Any = None
    notes: str | None = None

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = value - CAPABILITIES
        if unknown:
            raise ValueError(f"unknown {sorted(unknown)}; known: {sorted(CAPABILITIES)}")
        return value

    def over(self, base: ModelSpec | None) -> ModelSpec:
        """The model this entry makes: ``base`` (the catalog's entry with this id, if any)
        with the fields this entry gives replaced. Raises ``pydantic.ValidationError`` (loc:
        the missing field) when a new model leaves out a field every model needs."""
        given = {name: getattr(self, name) for name in self.model_fields_set}
        if base is not None:
            return base.model_copy(update=given)
        return ModelSpec.model_validate(given)


class ModelSpec(ModelEntry):
    """A complete model entry: one of the built-in catalog's, or a user's entry laid over
    it (``ModelEntry.over``)."""

    provider: str
    context_window: int = Field(gt=0)
    max_output: int = Field(gt=0)
