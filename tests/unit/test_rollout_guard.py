"""The guard's decision: roll back when a limit is crossed with enough requests, step up when
a step is due and the guard holds, else nothing; a paused or rolled-back rollout stays put."""

from __future__ import annotations

from typing import Any

from tiergate.config.routes import RolloutSpec
from tiergate.gateway.rollout_control import decide
from tiergate.store.rollouts import PAUSED, RAMPING, GuardStats, RolloutRow

SPEC = RolloutSpec.model_validate(
    {
        "model": "gpt-5.4",
        "ramp": {"steps": [10, 50, 100], "every": 20},
        "guard": {
            "max_error_rate": 0.2,
            "max_refusal_rate": 0.1,
            "min_requests": 10,
            "window": "30s",
            "min_judged_quality": 0.4,
            "judge": {"model": "x"},
        },
    }
)


def row(step: int = 0, state: str = RAMPING, since_ms: int = 0) -> RolloutRow:
    return RolloutRow(
        route="auto",
        model="gpt-5.4",
        percent=SPEC.steps[step],
        step=step,
        state=state,
        since_ms=since_ms,
        epoch_ms=0,
        version=1,
        changed_by="t",
        updated_ms=0,
    )


def stats(**figures: Any) -> GuardStats:
    return GuardStats(**figures)


def test_a_due_step_is_taken_when_the_guard_holds() -> None:
    change = decide(SPEC, row(), stats(attempts=12, errors=2, answered=10, route_requests=20), 0)
    assert change is not None and (change.kind, change.percent, change.step) == ("step", 50, 1)
    assert change.reason.startswith("step 2/3: 50% after 20 requests; guard held: 2/12 errors")
    assert decide(SPEC, row(), stats(route_requests=19), 0) is None  # not due yet
    assert decide(SPEC, row(step=2), stats(route_requests=500), 0) is None  # the last step


def test_each_limit_rolls_back_once_there_are_enough_requests() -> None:
    failing = stats(attempts=10, errors=3, answered=7, route_requests=50)
    change = decide(SPEC, row(step=1), failing, 0)
    assert change is not None and (change.kind, change.percent, change.state) == (
        "rollback",
        0.0,
        "rolled_back",
    )
    assert change.reason.startswith("guard: error rate 0.30 > 0.2 over the last 30s")
    assert decide(SPEC, row(), stats(attempts=9, errors=9), 0) is None  # too few to judge
    refusing = decide(SPEC, row(), stats(answered=10, refusals=2), 0)
    assert refusing is not None and "refusal rate 0.20 > 0.1" in refusing.reason
    judged = decide(SPEC, row(), stats(judged=10, quality=0.35), 0)
    assert judged is not None and "judged quality 0.35 < 0.4 over 10 pairs" in judged.reason
    assert decide(SPEC, row(), stats(judged=9, quality=0.1), 0) is None


def test_a_paused_rollout_neither_steps_nor_rolls_back_by_itself() -> None:
    failing = stats(attempts=50, errors=50, route_requests=99)
    assert decide(SPEC, row(state=PAUSED), failing, 0) is None


def test_a_timed_ramp_steps_after_its_time() -> None:
    timed = RolloutSpec.model_validate(
        {"model": "gpt-5.4", "ramp": {"steps": [5, 25], "every": "30s"}}
    )
    assert decide(timed, row(since_ms=1_000), stats(), 30_999) is None
    change = decide(timed, row(since_ms=1_000), stats(), 31_000)
    assert change is not None and change.percent == 25 and "after 30s" in change.reason


def test_a_managed_rollout_names_its_candidate_by_catalog_id() -> None:
    from tiergate.catalog import load_catalog
    from tiergate.gateway.rollout_control import managed_rollouts

    catalog = load_catalog()
    alias = next(name for name in ("haiku", "sonnet") if catalog.get(name) is not None)
    routes = {
        "auto": {
            "default": "claude-sonnet-4-6",
            "rollout": {"model": alias, "ramp": {"steps": [10], "every": 5}},
        },
        "fixed": {"default": "claude-sonnet-4-6", "rollout": {"model": alias, "percent": 5}},
    }
    managed = managed_rollouts(routes, catalog)
    assert list(managed) == ["auto"]  # a fixed share without a guard stays in the config
    model = catalog.get(alias)
    assert model is not None and managed["auto"].model == model.id != alias
