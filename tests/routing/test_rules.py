"""Rules routes: task tags, content conditions, capability filters, the cost cap, reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from tests.routing.builders import CATALOG, ask, policies
from tiergate.errors import InvalidRequest
from tiergate.routing.plan import Plan, RoutingState, clean_reason
from tiergate.types import ChatRequest

AUTO: dict[str, Any] = {
    "auto": {
        "rules": [
            {
                "when": {"task": ["classification", "extraction", "summary"]},
                "use": "claude-haiku-4-5",
            },
            {"when": {"has_images": True}, "use": "claude-sonnet-4-6"},
            {"when": {"has_tools": True, "min_prompt_tokens": 2000}, "use": "claude-opus-4-7"},
        ],
        "default": "claude-haiku-4-5",
    }
}


def route(request: ChatRequest, routes: Mapping[str, Mapping[str, Any]] = AUTO) -> Plan:
    table, state = policies(routes)
    return table[request.model](request, CATALOG, state)


def only_model(plan: Plan) -> str:
    assert len(plan.tiers) == 1
    return plan.tiers[0].model.id


def test_task_tag_picks_the_rule_and_says_so() -> None:
    plan = route(ask("Is this spam?", task="classification"))
    assert only_model(plan) == "claude-haiku-4-5"
    assert plan.reason == "rule 1 (task=classification) -> claude-haiku-4-5"
    assert plan.policy == "auto"
    assert plan.tiers[0].deployments[0].name == "dep-claude-haiku-4-5"


def test_task_tag_is_matched_without_case_or_spaces() -> None:
    plan = route(ask(task="  Extraction "))
    assert plan.reason.startswith("rule 1 (task=extraction)")


def test_image_goes_to_the_vision_rule() -> None:
    plan = route(ask("what is in this picture?", image=True))
    assert only_model(plan) == "claude-sonnet-4-6"
    assert plan.reason == "rule 2 (images) -> claude-sonnet-4-6"


def test_first_matching_rule_wins() -> None:
    plan = route(ask(task="classification", image=True))
    assert plan.reason.startswith("rule 1 ")


def test_all_conditions_of_a_rule_must_hold() -> None:
    short = route(ask("short", tools=True))
    assert short.reason == "no rule matched, default -> claude-haiku-4-5"
    long = route(ask("word " * 2500, tools=True))
    assert only_model(long) == "claude-opus-4-7"
    assert "tools prompt~" in long.reason and ">=2000" in long.reason


def test_default_when_no_rule_matches() -> None:
    plan = route(ask("write me a poem", task="poetry"))
    assert only_model(plan) == "claude-haiku-4-5"
    assert plan.reason == "no rule matched, default -> claude-haiku-4-5"


def test_max_prompt_tokens_condition() -> None:
    routes = {
        "r": {
            "rules": [{"when": {"max_prompt_tokens": 100}, "use": "claude-haiku-4-5"}],
            "default": "claude-sonnet-4-6",
        }
    }
    assert only_model(route(ask("hi", model="r"), routes)) == "claude-haiku-4-5"
    assert only_model(route(ask("x" * 2000, model="r"), routes)) == "claude-sonnet-4-6"


# -- capability filters -------------------------------------------------------------------------
LOCAL_DEFAULT = {"cheap": {"default": "local/smollm2-135m"}}


def test_model_without_vision_is_replaced_by_the_cheapest_capable() -> None:
    plan = route(ask(image=True, model="cheap"), LOCAL_DEFAULT)
    assert only_model(plan) == "claude-haiku-4-5"  # $1/M in: cheapest served with vision
    assert plan.reason == (
        "no rule matched, default -> local/smollm2-135m; "
        "local/smollm2-135m no vision, cheapest capable is claude-haiku-4-5"
    )


def test_model_without_tools_is_replaced() -> None:
    plan = route(ask(tools=True, model="cheap"), LOCAL_DEFAULT)
    assert only_model(plan) == "claude-haiku-4-5"
    assert "no tools" in plan.reason


def test_prompt_that_does_not_fit_the_context_moves_up() -> None:
    # SmolLM2 has an 8,192-token window; ~10,000 tokens of prompt do not fit.
    plan = route(ask("abcd" * 10_000, model="cheap"), LOCAL_DEFAULT)
    assert only_model(plan) == "claude-haiku-4-5"
    assert "does not fit 8192" in plan.reason


def test_context_counts_max_tokens_too() -> None:
    fits = route(ask("abcd" * 7000, model="cheap", max_tokens=100), LOCAL_DEFAULT)
    assert only_model(fits) == "local/smollm2-135m"
    over = route(ask("abcd" * 7000, model="cheap", max_tokens=2000), LOCAL_DEFAULT)
    assert only_model(over) == "claude-haiku-4-5"


def test_max_tokens_over_max_output_moves_up() -> None:
    plan = route(ask(model="cheap", max_tokens=100_000), LOCAL_DEFAULT)
    # Haiku stops at 64k output; Sonnet 4.6 allows 128k (its overview page, 2026-12-05).
    assert only_model(plan) == "claude-sonnet-4-6"
    assert "max_tokens over its max output 2048" in plan.reason


def test_only_served_models_are_candidates() -> None:
    table, state = policies(LOCAL_DEFAULT, served=("local/smollm2-135m", "claude-sonnet-4-6"))
    plan = table["cheap"](ask(image=True, model="cheap"), CATALOG, state)
    assert only_model(plan) == "claude-sonnet-4-6"  # Haiku is cheaper but not deployed


def test_no_capable_model_is_a_clear_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as caught:
        route(ask(model="cheap", max_tokens=500_000), LOCAL_DEFAULT)
    assert caught.value.status == 400
    assert "no model on this route can serve the request" in caught.value.message
    assert "max_tokens 500000" in caught.value.message


def test_fallback_none_refuses_instead_of_swapping() -> None:
    routes = {"strict": {"default": "local/smollm2-135m", "fallback": "none"}}
    with pytest.raises(InvalidRequest, match="no vision"):
        route(ask(image=True, model="strict"), routes)


def test_fallback_list_limits_the_stand_ins() -> None:
    routes = {"r": {"default": "local/smollm2-135m", "fallback": ["claude-opus-4-7"]}}
    plan = route(ask(image=True, model="r"), routes)
    assert only_model(plan) == "claude-opus-4-7"


# -- cost cap -------------------------------------------------------------------------------------
def test_cost_cap_moves_to_a_cheaper_capable_model() -> None:
    # Opus: 4,000 output tokens at $25/M = $0.10 > $0.05; Haiku: $0.02 + input, under the cap.
    routes = {"r": {"default": "claude-opus-4-7", "max_cost_usd": 0.05, "fallback": "any"}}
    plan = route(ask("hi", model="r", max_tokens=4000), routes)
    # SmolLM2 costs $0 but cannot write 4,000 tokens (max output 2,048): Haiku is next.
    assert only_model(plan) == "claude-haiku-4-5"
    assert "claude-opus-4-7 estimate $0.1000 over cap $0.05" in plan.reason


def test_cost_cap_uses_the_prompt_and_max_tokens() -> None:
    routes = {"r": {"default": "claude-haiku-4-5", "max_cost_usd": 0.05, "fallback": "none"}}
    # Haiku: 20,000 output tokens x $5/M = $0.10.
    with pytest.raises(InvalidRequest, match="over cap"):
        route(ask(model="r", max_tokens=20_000), routes)
    # ~40,000 prompt tokens x $1/M = $0.04 + 256 x $5/M: under.
    assert only_model(route(ask("abcd" * 40_000, model="r"), routes)) == "claude-haiku-4-5"
    # ~52,000 prompt tokens: over.
    with pytest.raises(InvalidRequest, match="over cap"):
        route(ask("abcd" * 52_000, model="r"), routes)


def test_cost_cap_without_max_tokens_assumes_1024_output_tokens() -> None:
    routes = {"r": {"default": "claude-opus-4-7", "max_cost_usd": 0.03, "fallback": "none"}}
    # 1,024 x $25/M = $0.0256 plus a few input tokens: under $0.03.
    assert only_model(route(ask(model="r", max_tokens=None), routes)) == "claude-opus-4-7"


# -- reasons --------------------------------------------------------------------------------------
def test_reason_is_one_ascii_line_even_for_a_hostile_task_tag() -> None:
    routes = {
        "r": {
            "rules": [{"when": {"task": "résumé\nx"}, "use": "claude-sonnet-4-6"}],
            "default": "claude-haiku-4-5",
        }
    }
    plan = route(ask(model="r", task="Résumé\nX"), routes)
    assert only_model(plan) == "claude-sonnet-4-6"
    assert plan.reason.isascii() and "\n" not in plan.reason
    assert plan.reason == "rule 1 (task=r?sum? x) -> claude-sonnet-4-6"
    plan.reason.encode("latin-1")  # what an HTTP header must be


def test_no_task_tag_skips_task_rules() -> None:
    request = ask("classify this")
    request.metadata["task"] = None
    assert route(request).reason.startswith("no rule matched")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rule 1 (task=x) -> gpt-5.4", "rule 1 (task=x) -> gpt-5.4"),
        ("  padded  and   spaced ", "padded and spaced"),
        ("line\nbreak\ttab", "line break tab"),
        ("caf\u00e9 \u2192 m", "caf? ? m"),
        ("x" * 250, "x" * 197 + "..."),
    ],
)
def test_reasons_are_one_printable_ascii_line(text: str, expected: str) -> None:
    assert clean_reason(text) == expected


def test_plans_are_reused_but_follow_a_changed_deployment_table() -> None:
    """Plans are memoised per route, model and reason; a new deployment table (a reload, or
    a test's) must give plans that name its deployments, never a remembered one's."""
    table, state = policies(AUTO)
    first = table["auto"](ask(task="classification"), CATALOG, state)
    again = table["auto"](ask(task="classification"), CATALOG, state)
    assert again is first
    other = table["auto"](ask(task="summary"), CATALOG, state)
    assert other is not first and other.reason != first.reason
    moved = {
        model: tuple(replace(d, name=d.name + "-moved") for d in deps)
        for model, deps in state.deployments.items()
    }
    plan = table["auto"](ask(task="classification"), CATALOG, RoutingState(moved))
    assert plan.tiers[0].deployments[0].name == "dep-claude-haiku-4-5-moved"
    assert plan.reason == first.reason
