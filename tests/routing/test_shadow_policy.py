"""A route's shadow candidate in its plans: added to every kind of route, left out where it
would compare a model with itself or could only fail; and what counts as agreeing."""

from __future__ import annotations

import pytest

from tests.routing.builders import CATALOG, answer, ask, policies
from tiergate.gateway.shadow_calls import answers_agree
from tiergate.routing.plan import RoutingState
from tiergate.types import ChatResponse, TextBlock, ToolUseBlock

SHADOW = {"model": "claude-haiku-4-5", "sample": 0.25, "max_in_flight": 3}


@pytest.mark.parametrize(
    "route",
    [
        {"default": "claude-sonnet-4-6"},
        {"ladder": ["claude-sonnet-4-6", "claude-opus-4-7"]},
    ],
)
def test_every_route_kind_carries_its_candidate(route: dict[str, object]) -> None:
    built, state = policies({"auto": {**route, "shadow": SHADOW}})
    plan = built["auto"](ask(), CATALOG, state)
    assert plan.shadow is not None
    assert plan.shadow.tier.model.id == "claude-haiku-4-5"
    assert [d.name for d in plan.shadow.tier.deployments] == ["dep-claude-haiku-4-5"]
    assert (plan.shadow.sample, plan.shadow.max_in_flight) == (0.25, 3)
    assert plan.tiers[0].model.id == "claude-sonnet-4-6"  # the served plan is unchanged
    assert built["auto"].name == "auto"


def test_no_candidate_when_the_plan_already_tries_it() -> None:
    built, state = policies(
        {"auto": {"ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"], "shadow": SHADOW}}
    )
    assert built["auto"](ask(), CATALOG, state).shadow is None


def test_no_candidate_while_its_breakers_are_open() -> None:
    built, state = policies({"auto": {"default": "claude-sonnet-4-6", "shadow": SHADOW}})
    cut_off = RoutingState(state.deployments, frozenset({"dep-claude-haiku-4-5"}))
    assert built["auto"](ask(), CATALOG, cut_off).shadow is None
    assert built["auto"](ask(), CATALOG, state).shadow is not None


def _calls(*calls: tuple[str, dict[str, object]]) -> ChatResponse:
    return ChatResponse(
        id="m", model="x", content=[ToolUseBlock(f"t{i}", n, a) for i, (n, a) in enumerate(calls)]
    )


def test_answers_agree_on_the_same_words_and_tool_calls() -> None:
    assert answers_agree(answer("Billing"), answer("  billing\n"))
    assert answers_agree(answer("two  words"), answer("Two\nwords"))
    assert not answers_agree(answer("billing"), answer("shipping"))
    assert not answers_agree(answer("billing"), answer("billing."))
    assert answers_agree(_calls(("lookup", {"id": 1})), _calls(("lookup", {"id": 1})))
    assert not answers_agree(_calls(("lookup", {"id": 1})), _calls(("lookup", {"id": 2})))
    assert not answers_agree(_calls(("lookup", {"id": 1})), _calls(("search", {"id": 1})))
    assert not answers_agree(_calls(("a", {}), ("b", {})), _calls(("b", {}), ("a", {})))
    text_and_call = ChatResponse(
        id="m", model="x", content=[TextBlock("ok"), ToolUseBlock("t", "lookup", {})]
    )
    assert not answers_agree(answer("ok"), text_and_call)


async def test_the_sample_decides_which_answered_requests_are_shadowed() -> None:
    """Real calls (to a closed loopback port, so each fails at once): the draw below the
    sample launches one, the others do not, and nothing is launched for an unanswered
    request."""
    from tiergate.config import RetryConfig
    from tiergate.cost.billing import Accountant
    from tiergate.executor import Executor
    from tiergate.gateway.shadow_calls import Shadower
    from tiergate.gateway.trace import RequestTrace
    from tiergate.providers.registry import ProviderRegistry

    built, state = policies({"auto": {"default": "claude-sonnet-4-6", "shadow": SHADOW}})
    providers = ProviderRegistry()
    draws = iter([0.1, 0.3, 0.25, 0.2499])
    shadower = Shadower(
        Executor(providers, RetryConfig(max_retries=0)),
        Accountant(CATALOG, None, None),
        None,
        bodies=False,
        draw=lambda: next(draws),
    )
    request = ask()
    plan = built["auto"](request, CATALOG, state)
    launched = []
    for _ in range(4):
        trace = RequestTrace("req_1", "openai", request=request, plan=plan, status=200)
        launched.append(shadower.launch(trace))
    failed = RequestTrace("req_2", "openai", request=request, plan=plan, status=502)
    assert not shadower.launch(failed)
    assert launched == [True, False, False, True]
    assert shadower.launched == 2 and shadower.running == 2
    await shadower.aclose()
    await providers.aclose()
    assert shadower.running == 0


async def test_a_shadow_row_that_cannot_be_built_is_logged_not_lost_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from typing import Any, cast

    from tiergate.config import RetryConfig
    from tiergate.executor import Executor
    from tiergate.gateway.shadow_calls import Shadower
    from tiergate.gateway.trace import RequestTrace
    from tiergate.providers.registry import ProviderRegistry

    class BrokenAccountant:  # any object with ``bill``: the shadower asks for no more
        def bill(self, attempts: Any) -> Any:
            raise RuntimeError("pricing broke")

    class Unreached:
        def submit_shadow(self, record: Any) -> None:
            raise AssertionError("the row failed before it could be queued")

    built, state = policies(
        {"auto": {"default": "claude-sonnet-4-6", "shadow": {"model": "claude-haiku-4-5"}}}
    )
    providers = ProviderRegistry()
    shadower = Shadower(
        Executor(providers, RetryConfig(max_retries=0)),
        cast(Any, BrokenAccountant()),
        cast(Any, Unreached()),
        bodies=False,
        draw=lambda: 0.0,
    )
    request = ask()
    plan = built["auto"](request, CATALOG, state)
    assert shadower.launch(RequestTrace("req_9", "openai", request=request, plan=plan, status=200))
    await shadower.aclose()
    await providers.aclose()
    assert "shadow call of request req_9 could not be logged" in caplog.text
    assert "pricing broke" in caplog.text
