"""Catalog data file and loader: names, required models, overrides, validation messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tiergate.catalog import CAPABILITIES, load_catalog
from tiergate.config.models import ModelEntry
from tiergate.errors import ConfigError, NotFound

CATALOG = load_catalog()
D = Decimal

# (id, input $/M, output $/M) as issue 3 states them
REQUIRED = [
    ("claude-haiku-4-5", "1", "5"),
    ("claude-sonnet-4-6", "3", "15"),
    ("claude-opus-4-7", "5", "25"),
    ("claude-opus-4-6", "5", "25"),
    ("gpt-5.4", "2.50", "15"),  # OpenAI's model page, read 2026-12-05
    ("gemini-3.1-flash-lite", "0.25", "1.50"),
    ("minimax-m2.7", "0.30", "1.20"),
    ("local/smollm2-135m", "0", "0"),
]


@pytest.mark.parametrize(("model_id", "price_in", "price_out"), REQUIRED)
def test_required_models_have_their_list_prices(
    model_id: str, price_in: str, price_out: str
) -> None:
    model = CATALOG.resolve(model_id)
    assert model.pricing is not None
    rates = model.pricing.standard.per_million()
    assert (rates["input"], rates["output"]) == (D(price_in), D(price_out))
    assert model.price_source and model.price_as_of


def test_every_model_is_complete() -> None:
    for model in CATALOG.models():
        assert model.capabilities <= CAPABILITIES
        assert model.context_window > 0 and model.max_output > 0
        assert model.price_as_of is not None


@pytest.mark.parametrize(
    "model_id", ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-6"]
)
def test_anthropic_models_follow_the_cache_and_batch_rules(model_id: str) -> None:
    pricing = CATALOG.resolve(model_id).pricing
    assert pricing is not None and pricing.batch is not None
    std, batch = pricing.standard, pricing.batch
    assert std.cache_write_5m == std.input * D("1.25")
    assert std.cache_write_1h == std.input * 2
    assert std.cache_read == std.input * D("0.1")
    for field in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"):
        assert getattr(batch, field) == getattr(std, field) / 2


@pytest.mark.parametrize(
    ("model_id", "minimum"),
    [
        ("claude-haiku-4-5", 4096),
        ("claude-opus-4-6", 4096),
        ("claude-opus-4-7", 2048),
        ("claude-sonnet-4-6", 1024),
    ],
)
def test_minimum_cacheable_lengths(model_id: str, minimum: int) -> None:
    assert CATALOG.resolve(model_id).min_cacheable_tokens == minimum


def test_local_model_is_free_text_only() -> None:
    local = CATALOG.resolve("local/smollm2-135m")
    assert (local.provider, local.context_window, local.max_output) == ("local", 8192, 2048)
    assert local.capabilities == frozenset()
    assert local.pricing is not None and local.pricing.standard.output == 0


def test_deepseek_is_unpriced_not_free() -> None:
    model = CATALOG.resolve("deepseek-v4-flash")
    assert model.pricing is None and not model.priced


@pytest.mark.parametrize(
    "name", ["claude-haiku-4-5", "claude-haiku-4-5-20251001", "haiku", "claude-haiku-4.5"]
)
def test_resolve_by_id_snapshot_or_alias(name: str) -> None:
    model = CATALOG.resolve(name)
    assert model.id == "claude-haiku-4-5"
    assert model.snapshot == "claude-haiku-4-5-20251001"
    assert CATALOG.get(name) is model


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(NotFound) as info:
        CATALOG.resolve("claude-haiku-4-6")
    assert info.value.status == 404
    assert "unknown model 'claude-haiku-4-6'" in str(info.value)
    assert "'claude-haiku-4-5'" in str(info.value)
    assert CATALOG.get("claude-haiku-4-6") is None


def _entries(*raw: dict[str, object]) -> list[ModelEntry]:
    """``models:`` entries as the settings hold them (validated there: config/models.py)."""
    return [ModelEntry.model_validate(entry) for entry in raw]


def test_override_changes_a_price_and_keeps_the_rest() -> None:
    catalog = load_catalog(_entries({"id": "gpt-5.4", "pricing": {"input": "3", "output": "15"}}))
    model = catalog.resolve("gpt-5-4")
    assert model.pricing is not None
    assert model.pricing.standard.per_million()["input"] == D("3")
    # cache rates not given are billed at the input rate; no batch table means standard rates
    assert model.pricing.standard.cache_read == model.pricing.standard.input
    assert model.pricing.batch is None
    assert model.context_window == CATALOG.resolve("gpt-5.4").context_window
    assert CATALOG.resolve("gpt-5.4").pricing.standard.input == D("2.5") / 10**6  # type: ignore[union-attr]


def test_override_adds_a_model() -> None:
    catalog = load_catalog(
        _entries(
            {
                "id": "my-model",
                "provider": "openai",
                "context_window": 32000,
                "max_output": 4000,
                "aliases": ["mine"],
                "capabilities": ["tools"],
                "pricing": None,
            }
        )
    )
    assert catalog.resolve("mine").id == "my-model"
    assert not catalog.resolve("mine").priced
    assert len(catalog) == len(CATALOG) + 1


def test_pricing_null_unprices_a_known_model_and_later_entries_win() -> None:
    """``pricing: null`` given is not ``pricing`` left out; two entries for one id apply in
    order, each over the model the one before made."""
    catalog = load_catalog(
        _entries({"id": "gpt-5.4", "pricing": None}, {"id": "gpt-5.4", "max_output": 1000})
    )
    model = catalog.resolve("gpt-5.4")
    assert not model.priced and model.max_output == 1000
    assert model.context_window == CATALOG.resolve("gpt-5.4").context_window


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"id": "x", "provider": "openai", "context_window": 1},
            "models[0].max_output: model 'x' is not in the catalog, so its entry adds a model "
            "and must give max_output (Field required)",
        ),
        (
            {"id": "x"},
            "models[0].provider: model 'x' is not in the catalog, so its entry adds a model "
            "and must give provider, context_window, max_output",
        ),
        (
            {"id": "gpt-5.4", "aliases": ["haiku"]},
            "models[0].aliases: model 'gpt-5.4': name 'haiku' is already used by model "
            "'claude-haiku-4-5'",
        ),
    ],
)
def test_entries_the_catalog_cannot_take_name_their_key_path(
    entry: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_catalog(_entries(entry))
    assert str(info.value).startswith(expected), str(info.value)
    assert info.value.loc[:2] == ("models", 0)


def test_a_new_id_that_is_another_models_alias_names_the_id() -> None:
    with pytest.raises(ConfigError) as info:
        load_catalog(
            _entries({"id": "haiku", "provider": "x", "context_window": 8, "max_output": 8})
        )
    assert info.value.loc == ("models", 0, "id")
    assert "name 'haiku' is already used by model 'claude-haiku-4-5'" in str(info.value)
