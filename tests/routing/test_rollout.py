"""A route's rollout: the candidate answers the requests in its share, per user or per prompt,
in place of the model the route chose, never where it cannot serve the request."""

from __future__ import annotations

import pytest

from tests.routing.builders import CATALOG, ask, policies
from tiergate.routing.plan import RoutingState
from tiergate.routing.rollout import BUCKETS, rollout_bucket
from tiergate.types import ChatRequest


def _asked_by(user: str | None, text: str = "hello") -> ChatRequest:
    request = ask(text)
    if user is not None:
        request.metadata["user_id"] = user
    return request


def _user(inside: bool, percent: float) -> str:
    """A user id whose bucket falls inside (or outside) a rollout of ``percent``."""
    limit = percent * BUCKETS / 100
    return next(
        f"user-{i}"
        for i in range(10_000)
        if (rollout_bucket(_asked_by(f"user-{i}")) < limit) == inside
    )


ROUTE = {"default": "claude-sonnet-4-6", "rollout": {"model": "claude-haiku-4-5", "percent": 25}}


def test_the_share_holds_over_many_users_and_each_user_stays_put() -> None:
    built, state = policies({"auto": ROUTE})
    policy = built["auto"]
    served = [policy(_asked_by(f"u{i}"), CATALOG, state).tiers[0].model.id for i in range(4000)]
    share = served.count("claude-haiku-4-5") / len(served)
    assert 0.22 < share < 0.28  # 25% of a hash; a fixed outcome, not a random one
    again = [policy(_asked_by(f"u{i}"), CATALOG, state).tiers[0].model.id for i in range(4000)]
    assert again == served


def test_a_request_without_a_user_is_bucketed_by_its_prompt() -> None:
    assert rollout_bucket(_asked_by(None, "a")) == rollout_bucket(_asked_by(None, "a"))
    buckets = {rollout_bucket(_asked_by(None, f"prompt {i}")) for i in range(50)}
    assert len(buckets) > 40
    assert rollout_bucket(_asked_by("alice", "a")) == rollout_bucket(_asked_by("alice", "b"))


def test_the_candidate_takes_the_chosen_models_place_and_says_so() -> None:
    built, state = policies({"auto": ROUTE})
    inside = built["auto"](_asked_by(_user(True, 25)), CATALOG, state)
    outside = built["auto"](_asked_by(_user(False, 25)), CATALOG, state)
    assert [t.model.id for t in inside.tiers] == ["claude-haiku-4-5"]
    assert [d.name for d in inside.tiers[0].deployments] == ["dep-claude-haiku-4-5"]
    assert inside.reason.startswith("rollout 25% -> claude-haiku-4-5 instead of claude-sonnet-4-6")
    assert inside.policy == "auto"
    assert [t.model.id for t in outside.tiers] == ["claude-sonnet-4-6"]
    assert "rollout" not in outside.reason


def test_a_ladder_rolls_out_its_first_rung() -> None:
    route = {
        "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"],
        "validators": [{"type": "json"}],
        "rollout": {"model": "claude-sonnet-4-6", "percent": 50},
    }
    built, state = policies({"auto": route})
    plan = built["auto"](_asked_by(_user(True, 50)), CATALOG, state)
    # The candidate replaces the first rung and is not tried twice; the checks stay.
    assert [t.model.id for t in plan.tiers] == ["claude-sonnet-4-6", "claude-opus-4-7"]
    assert [v.name for v in plan.validators] == ["json"]


@pytest.mark.parametrize(
    ("request_kind", "why"),
    [("image", "no vision"), ("open-circuit", "circuit open")],
)
def test_no_rollout_where_the_candidate_cannot_serve(request_kind: str, why: str) -> None:
    # The local model has no vision; with its breaker open it can serve nothing.
    route = {
        "default": "claude-sonnet-4-6",
        "rollout": {"model": "local/smollm2-135m", "percent": 100},
    }
    built, state = policies({"auto": route})
    request = ask(image=request_kind == "image")
    if request_kind == "open-circuit":
        state = RoutingState(state.deployments, frozenset({"dep-local/smollm2-135m"}))
    plan = built["auto"](request, CATALOG, state)
    assert [t.model.id for t in plan.tiers] == ["claude-sonnet-4-6"]
    assert f"rollout to local/smollm2-135m skipped: {why}" in plan.reason


def test_a_rollout_and_a_shadow_of_the_same_model_never_call_it_twice() -> None:
    route = {**ROUTE, "shadow": {"model": "claude-haiku-4-5", "sample": 1}}
    built, state = policies({"auto": route})
    inside = built["auto"](_asked_by(_user(True, 25)), CATALOG, state)
    outside = built["auto"](_asked_by(_user(False, 25)), CATALOG, state)
    assert inside.tiers[0].model.id == "claude-haiku-4-5" and inside.shadow is None
    assert outside.tiers[0].model.id == "claude-sonnet-4-6" and outside.shadow is not None


MANAGED = {
    "default": "claude-sonnet-4-6",
    "rollout": {"model": "claude-haiku-4-5", "ramp": {"steps": [10, 50, 100], "every": 100}},
}


def test_a_managed_rollout_serves_the_routing_states_share_and_keeps_users_as_it_grows() -> None:
    built, state = policies({"auto": MANAGED})
    policy = built["auto"]
    users = [f"u{i}" for i in range(2000)]

    def on_candidate(percent: float | None) -> set[str]:
        shares = {} if percent is None else {"auto": percent}
        routed = RoutingState(state.deployments, rollouts=shares)
        return {
            u
            for u in users
            if policy(_asked_by(u), CATALOG, routed).tiers[0].model.id == "claude-haiku-4-5"
        }

    assert on_candidate(None) == set()  # not read from the store yet: nobody moves
    ten, fifty, everyone = on_candidate(10), on_candidate(50), on_candidate(100)
    assert 0.08 < len(ten) / len(users) < 0.12 and 0.46 < len(fifty) / len(users) < 0.54
    assert ten < fifty < everyone == set(users)  # a step up keeps everyone already moved
    assert on_candidate(0) == set()  # rolled back: everyone back
    at_ten = RoutingState(state.deployments, rollouts={"auto": 10})
    plan = policy(_asked_by(next(iter(ten))), CATALOG, at_ten)
    assert plan.reason.startswith("rollout 10% -> claude-haiku-4-5 instead of claude-sonnet-4-6")
    assert plan.rolled_from is not None and plan.rolled_from.model.id == "claude-sonnet-4-6"
