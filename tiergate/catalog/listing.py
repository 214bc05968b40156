"""The catalog as people and scripts read it: one flat record per model.

``tiergate models`` prints these, and ``tiergate cost import-prices`` compares two of them to
show what an import would change. Prices are USD per million tokens as exact decimal strings,
the effective rates the cost engine bills (a cache rate left out shows at the input rate, a
derived long-context batch table shows as derived), so what is listed is what is charged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tiergate.catalog.models import ModelInfo, Pricing, Rates


def _rates(rates: Rates | None) -> dict[str, str] | None:
    if rates is None:
        return None
    return {name: format(value, "f") for name, value in rates.per_million().items()}


def pricing_record(pricing: Pricing | None) -> dict[str, Any] | None:
    """A model's rate tables, multipliers and fees (None: unpriced)."""
    if pricing is None:
        return None
    record: dict[str, Any] = {
        "standard": _rates(pricing.standard),
        "batch": _rates(pricing.batch),
        "long_context": None,
        "service_tiers": {k: format(v, "f") for k, v in pricing.service_tiers.items()},
        "inference_geo": {k: format(v, "f") for k, v in pricing.inference_geo.items()},
        # USD per 1,000 calls, as providers quote them; None: explicitly unpriced.
        "server_tools_per_1000": {
            name: None if per_call is None else format((per_call * 1000).normalize(), "f")
            for name, per_call in pricing.server_tools.items()
        },
    }
    if pricing.long_context is not None:
        record["long_context"] = {
            "threshold_tokens": pricing.long_context_threshold,
            **(_rates(pricing.long_context) or {}),
            "batch": _rates(pricing.long_context_batch),
        }
    return record


def model_record(model: ModelInfo, credit_multiplier: Decimal | None = None) -> dict[str, Any]:
    return {
        "id": model.id,
        "provider": model.provider,
        "aliases": list(model.aliases),
        "snapshot": model.snapshot,
        "context_window": model.context_window,
        "max_output": model.max_output,
        "capabilities": sorted(model.capabilities),
        "min_cacheable_tokens": model.min_cacheable_tokens,
        "pricing": pricing_record(model.pricing),
        "credit_multiplier": None if credit_multiplier is None else format(credit_multiplier, "f"),
        "price_source": model.price_source,
        "price_as_of": model.price_as_of,
    }


def flat_prices(pricing: Pricing | None) -> dict[str, str | None]:
    """Every rate as ``table.field`` -> per-million string (``pricing`` None: one "unpriced")."""
    record = pricing_record(pricing)
    if record is None:
        return {"pricing": "unpriced"}
    out: dict[str, str | None] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        else:
            out[prefix] = None if value is None else str(value)

    walk("", record)
    return out


def price_changes(
    old: Pricing | None, new: Pricing | None
) -> list[tuple[str, str | None, str | None]]:
    """(field, old, new) for every effective rate that differs, in a stable order."""
    before, after = flat_prices(old), flat_prices(new)
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        was, now = before.get(key), after.get(key)
        if was is None and now is None:
            continue
        if was is None or now is None or not _same(was, now):
            changes.append((key, was, now))
    return changes


def _same(a: str, b: str) -> bool:
    try:
        return Decimal(a) == Decimal(b)
    except ArithmeticError:
        return a == b


__all__ = ["flat_prices", "model_record", "price_changes", "pricing_record"]
