"""Import prices from ``genai-prices`` (pydantic/genai-prices), a maintained open price database
shipped as a Python package, instead of typing them by hand.

The package is an optional dependency, imported only here and only when the import runs. The
result is a list of ``models:`` entries (id + pricing + source + as-of date) for the user's
config, which replace the catalog's pricing for those models; nothing is written on its own.

What is carried over, and what is refused rather than approximated:
- input, output, cache read, 5-minute and 1-hour cache writes (``cache_write_mtok`` is the
  5-minute rate there); a rate the database leaves out is left out here too, so the catalog's
  rule applies (billed at the input rate).
- the batch table, when the database has a ``processing: batch`` variant.
- a long-context premium, when every tiered rate has the same single tier ("cliff" pricing over
  ``start`` tokens, which is how the catalog's ``long_context.threshold_tokens`` works).
- Refused: time-of-day prices (DeepSeek's peak/off-peak), several tiers, models not found.
- Kept from the catalog: its service-tier and geography multipliers and server-tool fees
  (an import replaces the token rates only; the database does not state those rules the way
  the cost engine applies them, docs/cost.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tiergate.catalog import Catalog, ModelInfo
from tiergate.errors import ConfigError

# catalog provider -> genai-prices provider id
PROVIDER_IDS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "google",
    "deepseek": "deepseek",
    "minimax": "minimax",
}
_FIELDS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_write_mtok": "cache_write_5m",
    "cache_write_1h_mtok": "cache_write_1h",
    "cache_read_mtok": "cache_read",
}
SOURCE = "genai-prices {version} (pydantic/genai-prices), model {provider}/{model}"


class Unrepresentable(Exception):
    """The database's price for a model cannot be stated exactly in the catalog's terms."""


@dataclass(slots=True)
class ImportResult:
    entries: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # model id -> why


def _plain(prices: Any, *, tiered_ok: bool) -> tuple[dict[str, str], dict[str, str], int | None]:
    """(base rates, long-context rates, threshold) from a genai-prices ModelPrice."""
    from genai_prices.types import TieredPrices

    base: dict[str, str] = {}
    long: dict[str, str] = {}
    starts: set[int] = set()
    for source_key, key in _FIELDS.items():
        value = getattr(prices, source_key, None)
        if value is None:
            continue
        if isinstance(value, TieredPrices):
            if not tiered_ok or len(value.tiers) != 1:
                raise Unrepresentable("tiered prices with more than one tier")
            starts.add(value.tiers[0].start)
            base[key] = str(value.base)
            long[key] = str(value.tiers[0].price)
        elif isinstance(value, Decimal):
            base[key] = str(value)
            long[key] = str(value)
    if "input" not in base or "output" not in base:
        raise Unrepresentable("no input or output price")
    if len(starts) > 1:
        raise Unrepresentable("tiers start at different token counts")
    threshold = starts.pop() if starts else None
    return base, (long if threshold is not None else {}), threshold


def _pricing(gp_model: Any, now: datetime) -> dict[str, Any]:
    from genai_prices.types import ConditionalPrice, TimeOfDateConstraint

    if isinstance(gp_model.prices, list) and any(
        isinstance(c, ConditionalPrice) and isinstance(c.constraint, TimeOfDateConstraint)
        for c in gp_model.prices
    ):
        raise Unrepresentable("prices vary by time of day; the cost engine has no request clock")
    base, long, threshold = _plain(gp_model.get_prices(now), tiered_ok=True)
    pricing: dict[str, Any] = dict(base)
    has_batch = any(v.when == {"processing": "batch"} for v in gp_model.price_variants or ())
    batch_long: dict[str, str] = {}
    if has_batch:
        batch_prices = gp_model.get_prices(now, {"processing": "batch"})
        batch, batch_long, batch_threshold = _plain(batch_prices, tiered_ok=True)
        if batch_threshold not in (None, threshold):
            raise Unrepresentable("batch tiers differ from standard tiers")
        pricing["batch"] = batch
    if threshold is not None:
        pricing["long_context"] = {"threshold_tokens": threshold, **long}
        if batch_long:
            pricing["long_context"]["batch"] = batch_long
    return pricing


def _find(snapshot: Any, model: ModelInfo) -> tuple[Any, Any] | None:
    provider_id = PROVIDER_IDS.get(model.provider)
    if provider_id is None:
        return None
    for ref in (model.id, model.snapshot, *model.aliases):
        if not ref:
            continue
        try:
            found: tuple[Any, Any] = snapshot.find_provider_model(ref, None, provider_id, None)
        except LookupError:
            continue
        return found
    return None


def import_prices(
    catalog: Catalog, names: list[str] | None = None, *, today: date | None = None
) -> ImportResult:
    """``models:`` entries with genai-prices' current prices for ``names`` (default: every
    catalog model whose provider the database covers)."""
    try:
        import genai_prices
        from genai_prices import data_snapshot
    except ImportError:
        raise ConfigError(
            "importing prices needs the optional package genai-prices: pip install genai-prices"
        ) from None
    day = today or datetime.now(UTC).date()
    now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    snapshot = data_snapshot.get_snapshot()
    models = [catalog.resolve(n) for n in names] if names else catalog.models()
    result = ImportResult()
    for model in models:
        found = _find(snapshot, model)
        if found is None:
            result.skipped[model.id] = f"not in genai-prices for provider {model.provider!r}"
            continue
        provider, gp_model = found
        try:
            pricing = _pricing(gp_model, now)
        except Unrepresentable as exc:
            result.skipped[model.id] = str(exc)
            continue
        source = SOURCE.format(
            version=genai_prices.__version__, provider=provider.id, model=gp_model.id
        )
        pricing.update(_modifiers(model))
        result.entries.append(
            {"id": model.id, "pricing": pricing, "price_source": source, "price_as_of": str(day)}
        )
    return result


def _modifiers(model: ModelInfo) -> dict[str, Any]:
    """The catalog's multipliers and fees for ``model``, as ``models:`` entry fields."""
    pricing = model.pricing
    if pricing is None:
        return {}
    out: dict[str, Any] = {}
    if pricing.service_tiers:
        out["service_tiers"] = {k: str(v) for k, v in pricing.service_tiers.items()}
    if pricing.inference_geo:
        out["inference_geo"] = {k: str(v) for k, v in pricing.inference_geo.items()}
    if pricing.server_tools:
        out["server_tools"] = {
            name: None if fee is None else format((fee * 1000).normalize(), "f")
            for name, fee in pricing.server_tools.items()
        }
    return out


Change = tuple[str, str | None, str | None]  # (rate, now, after)


def changes(catalog: Catalog, entries: list[dict[str, Any]]) -> dict[str, list[Change]]:
    """What writing ``entries`` would change, per model: (rate, now, after) for each effective
    rate that differs (per million tokens); models with no change are left out."""
    from tiergate.catalog.listing import price_changes
    from tiergate.catalog.models import Pricing
    from tiergate.config.models import PricingSpec

    out: dict[str, list[Change]] = {}
    for entry in entries:
        model = catalog.resolve(entry["id"])
        raw = entry.get("pricing")
        after = None if raw is None else Pricing.from_spec(PricingSpec.model_validate(raw))
        found = price_changes(model.pricing, after)
        if found:
            out[model.id] = found
    return out
