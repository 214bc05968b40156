"""Learned routes: a real router file, trained on a toy outcome set, loaded from the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.routing.builders import CATALOG, ask, policies
from tiergate.errors import ConfigError
from tiergate.routing.learned import LearnedRouter, fit, fit_models

HARD = [f"prove that the integral of x^{n} converges, step by step" for n in range(12)]
EASY = [f"what colour is fruit number {n}" for n in range(12)]


@pytest.fixture(scope="module")
def router_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prompts = HARD + EASY
    # The weak model fails the hard prompts; both pass the easy ones.
    weak = np.array([0.0] * len(HARD) + [1.0] * len(EASY))
    strong = np.ones(len(prompts))
    router = fit(prompts, weak, strong, weak_model="small", strong_model="big", spec="tfidf:1")
    path = tmp_path_factory.mktemp("router") / "toy.tgr"
    router.save(path)
    return path


def route_spec(path: Path, **extra: object) -> dict[str, dict[str, object]]:
    learned = {"router": str(path), "weak": "claude-haiku-4-5", "strong": "claude-sonnet-4-6"}
    return {"smart": {"learned": {**learned, **extra}}}


def test_hard_prompt_goes_strong_easy_prompt_goes_weak(router_file: Path) -> None:
    table, state = policies(route_spec(router_file))
    router = LearnedRouter.load(router_file)
    hard = ask("prove that the integral of x^5 converges, step by step", model="smart")
    easy = ask("what colour is fruit number 3", model="smart")
    assert router.score(hard.last_user_text()) > router.score(easy.last_user_text())

    strong_plan = table["smart"](hard, CATALOG, state)
    assert strong_plan.tiers[0].model.id == "claude-sonnet-4-6"
    weak_plan = table["smart"](easy, CATALOG, state)
    assert weak_plan.tiers[0].model.id == "claude-haiku-4-5"
    score = router.score(hard.last_user_text())
    assert strong_plan.reason == (
        f"learned score {score:.3f} >= threshold {router.threshold:.3f} -> claude-sonnet-4-6"
    )
    assert " < threshold " in weak_plan.reason


def test_threshold_from_config_overrides_the_file(router_file: Path) -> None:
    table, state = policies(route_spec(router_file, threshold=99.0))
    plan = table["smart"](ask(HARD[0], model="smart"), CATALOG, state)
    assert plan.tiers[0].model.id == "claude-haiku-4-5"
    assert "< threshold 99.000" in plan.reason


def test_weak_choice_still_passes_the_capability_filter(router_file: Path) -> None:
    spec = {
        "smart": {
            "learned": {
                "router": str(router_file),
                "weak": "local/smollm2-135m",
                "strong": "claude-sonnet-4-6",
            }
        }
    }
    table, state = policies(spec)
    plan = table["smart"](ask(EASY[0], model="smart", image=True), CATALOG, state)
    assert plan.tiers[0].model.id == "claude-haiku-4-5"
    assert "local/smollm2-135m no vision" in plan.reason


def test_models_default_to_the_router_files_and_must_be_known(router_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"routes.smart.learned.weak: unknown model 'small'"):
        policies({"smart": {"learned": {"router": str(router_file)}}})


def test_missing_router_file_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"learned\.router: cannot load router file"):
        policies(route_spec(tmp_path / "absent.tgr"))


def test_three_model_router_sends_each_prompt_to_the_cheapest_good_enough(
    tmp_path: Path,
) -> None:
    medium = [f"add {n} and {n + 3} then double it" for n in range(12)]
    prompts = HARD + medium + EASY
    small = np.array([0.0] * 24 + [1.0] * 12)
    mid = np.array([0.0] * 12 + [1.0] * 24)
    outcomes = {"small": small, "mid": mid, "big": np.ones(36)}
    router = fit_models(prompts, outcomes, ("small", "mid", "big"), spec="tfidf:1")
    path = tmp_path / "three.tgr"
    router.with_threshold(0.45, {"by": "test"}).save(path)
    served = {"small": "claude-haiku-4-5", "mid": "claude-sonnet-4-6", "big": "claude-opus-4-7"}
    table, state = policies({"smart": {"learned": {"router": str(path), "models": served}}})
    picked = {
        prompt: table["smart"](ask(prompt, model="smart"), CATALOG, state).tiers[0].model.id
        for prompt in (HARD[3], medium[3], EASY[3])
    }
    assert picked == {
        HARD[3]: "claude-opus-4-7",
        medium[3]: "claude-sonnet-4-6",
        EASY[3]: "claude-haiku-4-5",
    }
    plan = table["smart"](ask(EASY[3], model="smart"), CATALOG, state)
    assert plan.reason.startswith("learned choice small (cheapest within 0.450")
    with pytest.raises(ConfigError, match=r"learned\.models: \['tiny'\] are not models"):
        policies({"smart": {"learned": {"router": str(path), "models": {"tiny": "x"}}}})
    with pytest.raises(ConfigError, match=r"learned\.models\.small: unknown model 'small'"):
        policies({"smart": {"learned": {"router": str(path)}}})
