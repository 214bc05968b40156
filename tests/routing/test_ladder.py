"""Ladder routes: the plan's tiers, validators and reason; rungs a request cannot use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.routing.builders import CATALOG, ask, policies
from tiergate.errors import InvalidRequest
from tiergate.routing.plan import Plan
from tiergate.types import ChatRequest

TRIAGE: dict[str, Any] = {
    "support-triage": {
        "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"],
        "validators": [
            {"type": "one_of", "labels": ["billing", "bug", "feature", "other"]},
            {"type": "max_length", "chars": 500},
        ],
    }
}


def plan_for(request: ChatRequest, routes: Mapping[str, Mapping[str, Any]] = TRIAGE) -> Plan:
    table, state = policies(routes)
    return table[request.model](request, CATALOG, state)


def tier_ids(plan: Plan) -> list[str]:
    return [tier.model.id for tier in plan.tiers]


def test_ladder_plan_has_every_tier_in_order_with_validators() -> None:
    plan = plan_for(ask("my card was charged twice", model="support-triage"))
    assert tier_ids(plan) == ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]
    assert [v.name for v in plan.validators] == ["one_of", "max_length"]
    assert plan.policy == "support-triage"
    assert plan.reason == (
        "ladder claude-haiku-4-5 > claude-sonnet-4-6 > claude-opus-4-7 (one_of, max_length)"
    )
    assert all(tier.deployments for tier in plan.tiers)


def test_aliases_resolve_to_catalog_ids() -> None:
    plan = plan_for(ask(model="l"), {"l": {"ladder": ["haiku", "sonnet"]}})
    assert tier_ids(plan) == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert plan.validators == ()


def test_rungs_that_cannot_serve_the_request_are_skipped() -> None:
    routes = {"l": {"ladder": ["local/smollm2-135m", "claude-haiku-4-5", "claude-sonnet-4-6"]}}
    plan = plan_for(ask(model="l", image=True), routes)
    assert tier_ids(plan) == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert plan.reason.endswith("; skipped local/smollm2-135m no vision")


def test_cost_cap_drops_expensive_rungs() -> None:
    routes = {"l": {"ladder": ["haiku", "sonnet", "opus"], "max_cost_usd": 0.05}}
    # 3,000 output tokens: Haiku $0.015, Sonnet $0.045 (+input), Opus $0.075.
    plan = plan_for(ask(model="l", max_tokens=3000), routes)
    assert tier_ids(plan) == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert "skipped claude-opus-4-7 estimate $0.0750 over cap $0.05" in plan.reason


def test_no_rung_fits_falls_back_to_the_cheapest_capable() -> None:
    routes = {"l": {"ladder": ["local/smollm2-135m"]}}
    plan = plan_for(ask(model="l", tools=True), routes)
    assert tier_ids(plan) == ["claude-haiku-4-5"]
    assert plan.validators == ()
    assert "no rung fits" in plan.reason and "cheapest capable is claude-haiku-4-5" in plan.reason


def test_no_rung_and_no_fallback_is_invalid_request() -> None:
    routes = {"l": {"ladder": ["local/smollm2-135m"], "fallback": "none"}}
    with pytest.raises(InvalidRequest, match="no tools"):
        plan_for(ask(model="l", tools=True), routes)
