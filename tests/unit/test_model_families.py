"""Model families (``claude-*`` deployments), dated snapshot ids, and the direct policy's
capability and size checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tiergate.catalog import load_catalog
from tiergate.config import DeploymentConfig, load_settings
from tiergate.config.models import ModelEntry, PricingSpec
from tiergate.errors import ConfigError, InvalidRequest, NotFound
from tiergate.providers.families import CACHE_SIZE
from tiergate.providers.registry import build_deployments, build_families
from tiergate.routing.direct import DirectPolicy
from tiergate.routing.plan import RoutingState
from tiergate.types import ChatRequest, ImageBlock, Message, TextBlock, Tool

CATALOG = load_catalog()


def _config(**fields: Any) -> DeploymentConfig:
    base = {
        "name": "fam",
        "model": "claude-*",
        "provider": "anthropic",
        "base_url": "http://127.0.0.1:9",
        "api_key": "k",
    }
    return DeploymentConfig(**{**base, **fields})


def _state(*configs: DeploymentConfig) -> RoutingState:
    by_model = build_deployments(configs, CATALOG)
    deployments = {m: tuple(d) for m, d in by_model.items()}
    return RoutingState(deployments, frozenset(), build_families(configs) or None)


def _request(model: str, **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", [TextBlock("hi")])], **fields)


def test_unknown_id_in_a_family_is_served_unpriced_under_its_own_name() -> None:
    plan = DirectPolicy()(_request("claude-sonnet-9-9"), CATALOG, _state(_config()))
    (tier,) = plan.tiers
    assert tier.model.id == "claude-sonnet-9-9" and tier.model.pricing is None
    (deployment,) = tier.deployments
    assert deployment.name == "fam/claude-sonnet-9-9"
    assert deployment.upstream_model == "claude-sonnet-9-9"
    assert "unpriced" in plan.reason


def test_family_with_a_fixed_upstream_model_sends_every_id_there() -> None:
    state = _state(_config(provider="openai", upstream_model="deepseek-chat"))
    plan = DirectPolicy()(_request("claude-opus-5-5"), CATALOG, state)
    assert plan.tiers[0].deployments[0].upstream_model == "deepseek-chat"
    assert plan.tiers[0].model is CATALOG.get("claude-opus-5-5")  # priced as the catalog says


def test_own_deployments_come_before_the_family() -> None:
    own = _config(name="haiku", model="claude-haiku-4-5")
    plan = DirectPolicy()(_request("claude-haiku-4-5"), CATALOG, _state(_config(), own))
    assert [d.name for d in plan.tiers[0].deployments] == ["haiku"]


def test_ids_outside_the_pattern_or_not_id_shaped_are_404() -> None:
    state = _state(_config())
    for name in ("gpt-9", "claude-x\nInjected: 1", "claude-" + "x" * 200):
        with pytest.raises(NotFound):
            DirectPolicy()(_request(name), CATALOG, state)


def test_family_cache_is_bounded() -> None:
    families = build_families([_config()])
    for i in range(CACHE_SIZE + 50):
        assert families.serve(f"claude-{i}", None) is not None
    assert len(families._cache) == CACHE_SIZE


def test_a_local_family_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="pattern"):
        build_families([_config(provider="local", base_url=None, api_key=None)])


def test_embedded_default_serves_every_claude_id_with_the_key() -> None:
    settings = load_settings(None, env={"ANTHROPIC_API_KEY": "sk"})
    families = build_families(settings.deployments)
    served = families.serve("claude-opus-9", None)
    assert served is not None and served.deployment.provider == "anthropic"
    assert not build_families(load_settings(None, env={}).deployments)


def test_dated_snapshot_ids_resolve_to_their_entry() -> None:
    assert CATALOG.resolve("claude-opus-4-8-20260528").id == "claude-opus-4-8"
    assert CATALOG.get("claude-haiku-4-5-20251001") is CATALOG.get("claude-haiku-4-5")
    assert CATALOG.get("claude-sonnet-4-5-20250929") is None  # no entry for the model itself


def test_checks_tools_images_and_context_before_sending() -> None:
    state = _state(_config(name="local", model="local/smollm2-135m", provider="local"))
    policy = DirectPolicy()
    tools = [Tool("f")]
    with pytest.raises(InvalidRequest, match="does not support tools"):
        policy(_request("local/smollm2-135m", tools=tools), CATALOG, state)
    image = Message("user", [ImageBlock("url", url="https://x.test/a.png")])
    with pytest.raises(InvalidRequest, match="text only"):
        policy(ChatRequest("local/smollm2-135m", [image]), CATALOG, state)
    big = Message("user", [TextBlock("word " * 10_000)])  # ~12.5K tokens; the window is 8K
    with pytest.raises(InvalidRequest, match="context window"):
        policy(ChatRequest("local/smollm2-135m", [big]), CATALOG, state)
    policy(_request("local/smollm2-135m"), CATALOG, state)  # a plain request passes


def test_unknown_family_model_is_not_checked() -> None:
    big = Message("user", [TextBlock("word " * 10_000)])
    request = ChatRequest("claude-new", [big], tools=[Tool("f")])
    assert DirectPolicy()(request, CATALOG, _state(_config())).tiers


def test_a_price_added_in_the_config_prices_a_family_model() -> None:
    entry = ModelEntry(
        id="claude-sonnet-9-9",
        provider="anthropic",
        context_window=200000,
        max_output=64000,
        capabilities=frozenset({"tools"}),
        pricing=PricingSpec(input=Decimal(3), output=Decimal(15)),
    )
    catalog = load_catalog([entry])
    configs = [_config()]
    state = RoutingState({}, frozenset(), build_families(configs))
    plan = DirectPolicy()(_request("claude-sonnet-9-9"), catalog, state)
    model = plan.tiers[0].model
    assert model.priced and model.input_price() == 3
    with pytest.raises(InvalidRequest, match="text only"):  # and checked against its entry
        image = Message("user", [ImageBlock("url", url="https://x.test/a.png")])
        DirectPolicy()(ChatRequest("claude-sonnet-9-9", [image]), catalog, state)
