"""Transfer evaluation (--train/--test), overlap warnings, outcome scales, several models,
the cascade's evaluation, and progress bars: all on small synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tiergate.cli.router import router
from tiergate.evaluation import choice_report, summarise
from tiergate.routing.learned import (
    DEFAULT_SPEC,
    OutcomeDataError,
    fit_models,
    load_outcomes,
    parse_lines,
)
from tiergate.routing.learned._shape import SHAPE_NAMES, prompt_shape

DATA = Path(__file__).parents[1] / "fixtures" / "routing" / "synthetic.jsonl"
PAIR = ("cheap-model", "big-model")
ROWS = [json.loads(line) for line in DATA.read_text().splitlines()]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_transfer_eval_and_overlap_warning(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", ROWS[:150])
    seen = {r["prompt"] for r in ROWS[:150]}
    unseen = [r for r in ROWS[150:] if r["prompt"] not in seen]
    second = _write(tmp_path / "b.jsonl", unseen)
    runner = CliRunner()
    res = runner.invoke(router, ["eval", "--train", str(first), "--test", str(second), "--json"])
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["evaluation"] == f"fitted on {first}" and out["n_prompts"] == len(unseen) > 30
    data = load_outcomes(first)
    direct = fit_models(list(data.prompts), data.outcomes, PAIR, spec=DEFAULT_SPEC)
    test = load_outcomes(second)
    expected = summarise(direct.scores(list(test.prompts)), *(test.outcomes[m] for m in PAIR))
    assert out["APGR"] == expected["APGR_exact"]
    assert "warning" not in res.stderr
    assert "ETA" in res.stderr  # the rich progress bar, on stderr only
    res = runner.invoke(router, ["eval", "--train", str(first), "--test", str(first)])
    assert res.exit_code == 0, res.stderr
    distinct = len({str(r["prompt"]).strip() for r in ROWS[:150]})
    assert f"warning: {distinct} of {distinct} prompts (100.0%)" in res.stderr
    res = runner.invoke(router, ["eval", "--test", str(second)])
    assert res.exit_code == 2 and "--test needs --train or --router" in res.stderr


def test_router_file_on_its_training_data_warns(tmp_path: Path) -> None:
    path = tmp_path / "r.tgr"
    runner = CliRunner()
    res = runner.invoke(router, ["train", str(DATA), "--out", str(path), "--folds", "0"])
    assert res.exit_code == 0, res.stderr
    part = _write(tmp_path / "part.jsonl", [*ROWS[:40], _renamed(ROWS[0], "brand new prompt")])
    res = runner.invoke(router, ["eval", str(part), "--router", str(path)])
    assert res.exit_code == 0, res.stderr
    distinct = len({str(r["prompt"]).strip() for r in ROWS[:40]})
    assert f"warning: {distinct} of {distinct + 1} prompts" in res.stderr


def _renamed(row: dict[str, object], prompt: str) -> dict[str, object]:
    return {**row, "prompt": prompt}


def test_graded_scale_given_inferred_and_refused(tmp_path: Path) -> None:
    lines = [
        json.dumps({"prompt": f"p{i}", "outcomes": {"a": 1 + i % 10, "b": 10}}) for i in range(20)
    ]
    inferred = parse_lines(lines)
    assert inferred.scale.inferred and (inferred.scale.low, inferred.scale.high) == (1, 10)
    assert inferred.outcomes["b"].max() == 1.0 and inferred.outcomes["a"].min() == 0.0
    given = parse_lines(lines, scale=(0, 10))
    assert not given.scale.inferred and given.outcomes["a"][0] == pytest.approx(0.1)
    with pytest.raises(OutcomeDataError, match=r"line 1: outcome of 'a' \(1\) lies outside"):
        parse_lines(lines, scale=(2, 10))
    graded = [{**r, "outcomes": {m: 1 + 9 * v for m, v in r["outcomes"].items()}} for r in ROWS]
    path = _write(tmp_path / "graded.jsonl", graded)
    res = CliRunner().invoke(router, ["eval", str(path), "--folds", "2", "--json"])
    assert res.exit_code == 0, res.stderr
    assert "outcome scale [1, 10] (inferred from the data's range)" in res.stderr
    assert json.loads(res.stdout)["APGR"] > 0.6
    res = CliRunner().invoke(router, ["eval", str(path), "--folds", "2", "--scale", "1-10"])
    assert res.exit_code == 2 and "expected MIN,MAX" in res.stderr


def test_three_models_route_to_the_cheapest_good_enough() -> None:
    hard = [f"prove the bound on integral {n} of x^{n} carefully" for n in range(20)]
    medium = [f"add {n} and {n + 3} then double it" for n in range(20)]
    easy = [f"what colour is fruit number {n}" for n in range(20)]
    prompts = hard + medium + easy
    small = np.array([0.0] * 40 + [1.0] * 20)
    mid = np.array([0.0] * 20 + [1.0] * 40)
    big = np.ones(60)
    outcomes = {"small": small, "mid": mid, "big": big}
    model = fit_models(prompts, outcomes, ("small", "mid", "big"), spec="tfidf")
    chosen = model.choose_many(
        [
            "prove the bound on integral 3 of x^3 carefully",
            "add 4 and 7 then double it",
            "what colour is fruit number 5",
        ],
        threshold=0.3,
    )
    assert chosen == ["big", "mid", "small"]
    assert model.choose("what colour is fruit number 5") in {"small", "mid", "big"}
    # A tie in predicted quality goes to the cheaper model.
    tie = fit_models(prompts, {"x": big, "y": big}, ("x", "y"), spec="tfidf")
    assert tie.choose_many(easy[:3], threshold=1e-9) == ["x", "x", "x"]
    report = choice_report(model.qualities(prompts), outcomes, ("small", "mid", "big"), [1, 2, 8])
    assert report["APGR_cost"] > 0.8
    assert report["points"][0]["model_shares"].keys() == {"small", "mid", "big"}


def test_eval_with_models_and_costs(tmp_path: Path) -> None:
    rows = [
        {**r, "outcomes": {**r["outcomes"], "mid-model": r["outcomes"]["big-model"] * (i % 2)}}
        for i, r in enumerate(ROWS)
    ]
    path = _write(tmp_path / "three.jsonl", rows)
    args = ["eval", str(path), "--folds", "2", "--models", "cheap-model,mid-model,big-model"]
    res = CliRunner().invoke(router, [*args, "--costs", "1,3,10", "--json"])
    assert res.exit_code == 0, res.stderr
    choice = json.loads(res.stdout)["choice"]
    assert choice["models"] == ["cheap-model", "mid-model", "big-model"]
    assert choice["costs"] == [1, 3, 10] and 0.5 < choice["APGR_cost"] <= 1.5
    res = CliRunner().invoke(router, [*args[:4], "--models", "cheap-model,nope"])
    assert res.exit_code == 2 and "name two or more different models" in res.stderr


def test_validator_train_and_cascade_eval(tmp_path: Path) -> None:
    rows = []
    for i in range(120):
        good = i % 3 != 0
        a, b = 10 + i, 7
        text = f"{a} * {b} = {a * b if good else a * b + 5}" + (f"\n#### {a * b}" if good else "")
        rows.append(
            {
                "prompt": f"How many eggs are in {a} boxes of {b}?",
                "outcomes": {"cheap-model": float(good), "big-model": 1.0},
                "responses": {"cheap-model": text},
            }
        )
    path = _write(tmp_path / "answers.jsonl", rows)
    out = tmp_path / "v.tgv"
    runner = CliRunner()
    res = runner.invoke(
        router, ["validator", "train", str(path), "--out", str(out), "--folds", "2"]
    )
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(router, ["validator", "eval", str(path), "--folds", "3", "--json"])
    assert res.exit_code == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["APGR"] > 0.75 and result["cheap_call_share"] == 1.0
    assert result["built_in_checks"]["strong_share"] == pytest.approx(1 / 3, abs=0.01)
    res = runner.invoke(router, ["validator", "eval", str(path), "--validator", str(out)])
    assert res.exit_code == 0 and "warning: 120 of 120 prompts" in res.stderr
    res = runner.invoke(router, ["validator", "eval", str(DATA), "--folds", "2"])
    assert res.exit_code == 1 and "carries no 'responses'" in res.stderr


def test_shape_features_read_length_quantities_and_money() -> None:
    short = prompt_shape("How many apples?")
    long = prompt_shape(
        "Each box holds 12.5 kg. She sells 20% of the boxes for $3 each. "
        "Twice as many remain. How many kilograms are left?"
    )
    names = dict(zip(SHAPE_NAMES, long, strict=True))
    assert len(short) == len(long) == len(SHAPE_NAMES)
    assert long[0] > short[0] and long[1] > short[1] and long[2] > short[2]
    assert names["has_percent"] == names["has_money"] == 1.0
    assert names["decimal_number_share"] > 0 and names["log_quantity_words"] > 0
    assert dict(zip(SHAPE_NAMES, short, strict=True))["has_money"] == 0.0
