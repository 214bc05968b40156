"""Route config errors surface at start-up, naming the route and the key."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing.builders import policies
from tiergate.errors import ConfigError


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (
            {"auto": {"default": "claude-haiku-4-6"}},
            "routes.auto.default: unknown model 'claude-haiku-4-6'; did you mean claude-haiku-4-5",
        ),
        ({"auto": {"default": "gpt-5.4"}}, "routes.auto.default: model gpt-5.4 has no deployment"),
        (
            {"auto": {"rules": [{"when": {"task": "x"}, "use": "opus-9"}], "default": "haiku"}},
            "routes.auto.rules[0].use: unknown model 'opus-9'",
        ),
        (
            {"auto": {"rules": [{"when": {"taks": "x"}, "use": "haiku"}], "default": "haiku"}},
            "routes.auto.rules[0].when.taks: unknown key; did you mean task?",
        ),
        (
            {"auto": {"rules": [{"use": "haiku"}]}},
            "routes.auto: a rules route needs a `default` model",
        ),
        (
            {"auto": {"default": "haiku", "ladder": ["haiku"]}},
            "routes.auto: a route has exactly one of",
        ),
        ({"auto": {}}, "routes.auto: a route has exactly one of"),
        ({"auto": {"ladder": []}}, "routes.auto: a route has exactly one of"),
        (
            {"auto": {"default": "haiku", "validators": [{"type": "json"}]}},
            "`validators` only apply to a `ladder` or `agent_loop` route",
        ),
        ({"auto": {"default": "haiku", "max_cost_usd": -1}}, "routes.auto.max_cost_usd"),
        (
            {"auto": {"default": "haiku", "fallback": ["gpt-5.4"]}},
            "routes.auto.fallback[0]: model gpt-5.4 has no deployment",
        ),
        ({"auto": {"ladder": ["haiku", "sonet"]}}, "routes.auto.ladder[1]: unknown model"),
        ({"sonnet": {"default": "haiku"}}, "routes.sonnet: the route name is also the name"),
        ({"auto": "haiku"}, "routes.auto: a route is a mapping"),
        ({"auto": {"learned": {"weak": "haiku"}}}, "routes.auto.learned.router: Field required"),
        (
            {"auto": {"default": "haiku", "shadow": {"model": "gpt-5.4"}}},
            "routes.auto.shadow.model: model gpt-5.4 has no deployment",
        ),
        (
            {"auto": {"default": "haiku", "shadow": {"model": "sonnet", "sample": 0}}},
            "routes.auto.shadow.sample: Input should be greater than 0",
        ),
        (
            {"auto": {"default": "haiku", "shadow": {"model": "sonnet", "sample": 1.5}}},
            "routes.auto.shadow.sample: Input should be less than or equal to 1",
        ),
        (
            {"auto": {"default": "haiku", "shadow": {"model": "sonnet", "max_in_flight": 0}}},
            "routes.auto.shadow.max_in_flight: Input should be greater than 0",
        ),
        (
            {"auto": {"default": "haiku", "rollout": {"model": "opus-9", "percent": 5}}},
            "routes.auto.rollout.model: unknown model 'opus-9'",
        ),
        (
            {"auto": {"default": "haiku", "rollout": {"model": "sonnet", "percent": 101}}},
            "routes.auto.rollout.percent: Input should be less than or equal to 100",
        ),
        (
            {"auto": {"default": "haiku", "rollout": {"model": "sonnet"}}},
            "routes.auto.rollout: a rollout needs a `percent` or a `ramp`",
        ),
        (
            {
                "auto": {
                    "default": "haiku",
                    "rollout": {
                        "model": "sonnet",
                        "percent": 5,
                        "ramp": {"steps": [5], "every": 10},
                    },
                }
            },
            "routes.auto.rollout: give either `percent` (a fixed share) or `ramp`, not both",
        ),
        (
            {
                "auto": {
                    "default": "haiku",
                    "rollout": {"model": "sonnet", "ramp": {"steps": [50, 10], "every": 10}},
                }
            },
            "routes.auto.rollout.ramp.steps: steps must increase",
        ),
        (
            {
                "auto": {
                    "default": "haiku",
                    "rollout": {"model": "sonnet", "ramp": {"steps": [5], "every": "soon"}},
                }
            },
            "routes.auto.rollout.ramp.every: 'soon' is not a duration",
        ),
        (
            {
                "auto": {
                    "default": "haiku",
                    "rollout": {
                        "model": "sonnet",
                        "percent": 5,
                        "guard": {"min_judged_quality": 0.4},
                    },
                }
            },
            "routes.auto.rollout.guard: `min_judged_quality` needs a `judge` to measure it",
        ),
        (
            {
                "auto": {
                    "default": "haiku",
                    "shadow": {"model": "sonnet", "judge": {"model": "opus-9"}},
                }
            },
            "routes.auto.shadow.judge.model: unknown model 'opus-9'",
        ),
        (
            {
                "auto": {
                    "default": "haiku",
                    "shadow": {"model": "sonnet", "judge": {"model": "sonnet", "mode": "vibes"}},
                }
            },
            "routes.auto.shadow.judge.mode: Input should be 'pairwise' or 'rubric'",
        ),
        (
            {"auto": {"default": "haiku", "shadow": {"modle": "sonnet"}}},
            "routes.auto.shadow.modle: unknown key; did you mean model?",
        ),
    ],
)
def test_bad_route_is_a_config_error_naming_route_and_key(
    routes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        policies(routes)
    assert message in str(caught.value)


def test_empty_routes_build_nothing() -> None:
    table, _ = policies({})
    assert table == {}


def test_each_route_is_its_own_policy() -> None:
    table, _ = policies({"a": {"default": "haiku"}, "b": {"ladder": ["haiku", "opus"]}})
    assert sorted(table) == ["a", "b"]
    assert table["a"].name == "a" and table["b"].name == "b"
