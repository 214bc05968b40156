"""Each provider billing rule the cost engine follows, one table row per rule, priced by hand.

The rules and their sources are in docs/cost.md and tiergate/catalog/models.yaml; each row's
``rule`` says which one it checks, so a failing row names the rule that broke.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tiergate.catalog import load_catalog
from tiergate.config.models import ModelEntry
from tiergate.cost import cache_savings_usd, cost_of, counterfactual_usd, credits_of, usd_of
from tiergate.cost.credits import CreditPlan
from tiergate.types import Usage

D = Decimal
# A model with a batch table and a long-context table but no long-context batch table.
NO_LONG_BATCH = {
    "id": "long-no-batch-table",
    "provider": "anthropic",
    "context_window": 1_000_000,
    "max_output": 64000,
    "pricing": {
        "input": "3",
        "output": "15",
        "cache_read": "0.30",
        "batch": {"input": "1.50", "output": "7.50", "cache_read": "0.15"},
        "long_context": {
            "threshold_tokens": 200_000,
            "input": "6",
            "output": "22.50",
            "cache_read": "0.60",
        },
    },
}
CATALOG = load_catalog([ModelEntry.model_validate(NO_LONG_BATCH)])

RULES = [
    # (rule, model, usage, batch, expected USD or None for unpriced)
    (
        "OpenAI gpt-5.4: $2.50 in, $15 out",
        "gpt-5.4",
        Usage(input_tokens=1000, output_tokens=1000),
        False,
        "0.0175",
    ),
    (
        "OpenAI gpt-5.4: cached input $0.25 (0.1x)",
        "gpt-5.4",
        Usage(input_tokens=1000, cache_read_input_tokens=9000),
        False,
        "0.00475",
    ),
    (
        "OpenAI gpt-5.4: Batch API half price",
        "gpt-5.4",
        Usage(input_tokens=1000, output_tokens=1000),
        True,
        "0.00875",
    ),
    (
        "OpenAI gpt-5.4: at 272K input exactly, standard rates",
        "gpt-5.4",
        Usage(input_tokens=272_000),
        False,
        "0.68",
    ),
    (
        "OpenAI gpt-5.4: over 272K input, 2x input and 1.5x output for the whole request",
        "gpt-5.4",
        Usage(input_tokens=272_001, output_tokens=1000),
        False,
        "1.382505",
    ),
    (
        "OpenAI gpt-5.4: cached tokens count toward 272K; cached input doubles too",
        "gpt-5.4",
        Usage(input_tokens=100_000, cache_read_input_tokens=200_000),
        False,
        "0.6",
    ),
    (
        "OpenAI gpt-5.4: long context in batch, half the long rates",
        "gpt-5.4",
        Usage(input_tokens=300_000, output_tokens=1000),
        True,
        "0.76125",
    ),
    (
        "OpenAI service_tier priority: 2x every token rate",
        "gpt-5.4",
        Usage(
            input_tokens=1000,
            output_tokens=1000,
            cache_read_input_tokens=1000,
            service_tier="priority",
        ),
        False,
        "0.0355",
    ),
    (
        "OpenAI service_tier flex: 0.5x (the Batch API price)",
        "gpt-5.4",
        Usage(input_tokens=1000, output_tokens=1000, service_tier="flex"),
        False,
        "0.00875",
    ),
    (
        "OpenAI flex stacks on the >272K rates",
        "gpt-5.4",
        Usage(input_tokens=300_000, service_tier="flex"),
        False,
        "0.75",
    ),
    (
        "OpenAI service_tier default: the standard price",
        "gpt-5.4",
        Usage(input_tokens=1000, service_tier="default"),
        False,
        "0.0025",
    ),
    (
        "OpenAI service_tier scale: no published per-token price, unpriced",
        "gpt-5.4",
        Usage(input_tokens=1000, service_tier="scale"),
        False,
        None,
    ),
    (
        "Anthropic inference_geo us: 1.1x every token price (Opus 4.6 and later)",
        "claude-opus-4-7",
        Usage(input_tokens=1000, output_tokens=1000, inference_geo="us"),
        False,
        "0.033",
    ),
    (
        "Anthropic inference_geo us: 1.1x cache writes and reads too",
        "claude-sonnet-4-6",
        Usage(cache_read_input_tokens=10_000, cache_creation_input_tokens=1000, inference_geo="us"),
        False,
        "0.007425",
    ),
    (
        "Anthropic inference_geo us stacks on batch",
        "claude-opus-4-6",
        Usage(input_tokens=1000, output_tokens=1000, inference_geo="us"),
        True,
        "0.0165",
    ),
    (
        "Anthropic inference_geo global: the standard price",
        "claude-opus-4-7",
        Usage(input_tokens=1000, inference_geo="global"),
        False,
        "0.005",
    ),
    (
        "Anthropic inference_geo us on a model without the multiplier: unpriced",
        "claude-haiku-4-5",
        Usage(input_tokens=1000, inference_geo="us"),
        False,
        None,
    ),
    (
        "Anthropic service_tier standard: the standard price",
        "claude-haiku-4-5",
        Usage(input_tokens=1000, service_tier="standard"),
        False,
        "0.001",
    ),
    (
        "Anthropic Priority Tier: committed-capacity pricing, unpriced",
        "claude-haiku-4-5",
        Usage(input_tokens=1000, service_tier="priority"),
        False,
        None,
    ),
    (
        "Anthropic fast mode: no per-token price in the catalog, unpriced",
        "claude-opus-4-6",
        Usage(input_tokens=1000, speed="fast"),
        False,
        None,
    ),
    (
        "Anthropic web search: $10 per 1,000 searches, on top of tokens",
        "claude-sonnet-4-6",
        Usage(input_tokens=1000, output_tokens=100, web_search_requests=3),
        False,
        "0.0345",
    ),
    (
        "Anthropic web search fee is not halved in batch nor multiplied by geography",
        "claude-opus-4-7",
        Usage(input_tokens=1000, web_search_requests=1, inference_geo="us"),
        True,
        "0.01275",
    ),
    (
        "Anthropic web fetch: no fee beyond tokens",
        "claude-haiku-4-5",
        Usage(input_tokens=1000, web_fetch_requests=5),
        False,
        "0.001",
    ),
    (
        "Anthropic code execution: container hours, unpriced",
        "claude-sonnet-4-6",
        Usage(input_tokens=1000, code_execution_requests=1),
        False,
        None,
    ),
    (
        "A server tool on a model that lists none: unpriced",
        "gpt-5.4",
        Usage(input_tokens=1000, web_search_requests=1),
        False,
        None,
    ),
    (
        "No long-context batch table: the long rates at the batch discount",
        "long-no-batch-table",
        Usage(input_tokens=300_000, output_tokens=1000),
        True,
        "0.91125",
    ),
    (
        "No long-context batch table: cache reads at the batch discount too",
        "long-no-batch-table",
        Usage(input_tokens=100_000, cache_read_input_tokens=200_000),
        True,
        "0.36",
    ),
]


@pytest.mark.parametrize(("rule", "model", "usage", "batch", "expected"), RULES)
def test_provider_rule(
    rule: str, model: str, usage: Usage, batch: bool, expected: str | None
) -> None:
    info = CATALOG.resolve(model)
    cost = cost_of(usage, info, batch=batch)
    if expected is None:
        assert cost.usd is None, rule
        assert usd_of(usage, info, batch=batch) is None, rule
        return
    assert cost.usd == D(expected), rule
    assert usd_of(usage, info, batch=batch) == D(expected), rule
    assert sum(cost.breakdown().values(), D(0)) == cost.usd, rule


def test_the_baseline_is_priced_on_tokens_alone() -> None:
    """A priority-tier gpt-5.4 answer with a web search has a baseline on Sonnet: the tier and
    fee are OpenAI's and Anthropic's own, not the baseline's."""
    usage = Usage(input_tokens=1000, output_tokens=1000, service_tier="priority")
    assert counterfactual_usd(usage, CATALOG.resolve("sonnet")) == D("0.018")
    plan = CreditPlan(CATALOG.resolve("sonnet"), D("0.01"), {"gpt-5.4": D(1)})
    assert credits_of(usage, CATALOG.resolve("gpt-5.4"), plan, byok=False) == D("1.8")


def test_batch_cache_savings_are_at_batch_rates() -> None:
    """10,000 reads save ($0.50 - $0.05) per million at Haiku's batch rates, half the standard
    figure (the request log's use of it: tests/unit/test_cost_recording.py)."""
    usage = Usage(cache_read_input_tokens=10_000)
    haiku = CATALOG.resolve("haiku")
    assert cache_savings_usd(usage, haiku, batch=True) == D("0.0045")
    assert cache_savings_usd(usage, haiku) == D("0.009")


@pytest.mark.parametrize(
    ("model", "field", "value", "source"),
    [
        ("deepseek-v4-flash", "max_output", 384_000, "api-docs.deepseek.com: MAX OUTPUT 384K"),
        ("claude-sonnet-4-6", "max_output", 128_000, "Sonnet 4.6 overview page: 128K"),
        ("gemini-3.1-flash-lite", "context_window", 1_048_576, "ai.google.dev: 1,048,576"),
        ("claude-opus-4-7", "min_cacheable_tokens", 2048, "Anthropic prompt-caching page"),
        ("gpt-5.4", "context_window", 1_050_000, "OpenAI gpt-5.4 page: 1,050,000"),
    ],
)
def test_catalog_fields_follow_the_providers_pages(
    model: str, field: str, value: int, source: str
) -> None:
    assert getattr(CATALOG.resolve(model), field) == value, source


def test_every_built_in_price_says_where_and_when_it_was_read() -> None:
    for model in load_catalog().models():
        assert model.price_source and model.price_as_of, model.id


def test_every_anthropic_model_states_its_server_tool_and_geography_rules() -> None:
    """Web search at $10 per 1,000 and code execution explicitly unpriced on every Claude
    model; US-only inference at 1.1x on Opus 4.6 and every later model (Haiku 4.5 predates
    it and has no such option)."""
    for model in load_catalog().models():
        if model.provider != "anthropic" or model.pricing is None:
            continue
        tools = model.pricing.server_tools
        assert tools.get("web_search") == D("0.01"), model.id
        assert "code_execution" in tools and tools["code_execution"] is None, model.id
        if model.id != "claude-haiku-4-5":
            assert model.pricing.inference_geo == {"us": D("1.1")}, model.id
