"""Train / save / load / score round trip, data errors with line numbers, header checks."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tiergate.evaluation import calibrate, train_router
from tiergate.routing.learned import (
    LearnedRouter,
    OutcomeDataError,
    RouterFileError,
    choose_pair,
    load_outcomes,
    parse_lines,
)

DATA = Path(__file__).parents[1] / "fixtures" / "routing" / "synthetic.jsonl"
HARD = "Compute 812 * 17 + 812 ^ 2 / 17 = ?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"
EASY = (
    "Which river is the most famous one?\nA. the first\nB. the second\nC. the third\n"
    "D. none\nAnswer:"
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LearnedRouter, Path]:
    data = load_outcomes(DATA)
    router = train_router(data, choose_pair(data), "tfidf:0.75+stats:0.25", folds=2)
    path = tmp_path_factory.mktemp("router") / "r.tgr"
    router.save(path)
    return router, path


def test_round_trip_scores_identically(trained: tuple[LearnedRouter, Path]) -> None:
    router, path = trained
    loaded = LearnedRouter.load(path)
    assert loaded.score(HARD) == pytest.approx(router.score(HARD))
    assert loaded.header["models"] == {"weak": "cheap-model", "strong": "big-model"}
    assert loaded.header["metrics"]["kind"] == "2-fold out-of-fold"
    assert loaded.score(HARD) > loaded.score(EASY)
    assert loaded.decide(HARD) is True and loaded.decide(EASY) is False


def test_strong_share_and_threshold_agree(trained: tuple[LearnedRouter, Path]) -> None:
    router, _ = trained
    assert router.strong_share_for_threshold() == pytest.approx(0.5, abs=0.02)
    t = router.threshold_for_strong_share(0.2)
    assert router.strong_share_for_threshold(t) == pytest.approx(0.2, abs=0.02)
    assert router.strong_share_for_threshold(router.threshold_for_strong_share(0.0)) == 0.0


def test_calibrate_for_share_and_quality(trained: tuple[LearnedRouter, Path]) -> None:
    router, _ = trained
    data = load_outcomes(DATA)
    _, share = calibrate(router, data, strong_share=0.25)
    assert share["strong_share"] == pytest.approx(0.25, abs=0.02)
    assert share["on_training_data"] is True
    updated, quality = calibrate(router, data, target_quality=0.8)
    assert quality["quality"] >= 0.8
    assert updated.threshold == quality["threshold"]
    with pytest.raises(ValueError, match="out of reach"):
        calibrate(router, data, target_quality=0.99)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"not json\n" + b, "no JSON header"),
        (lambda b: b.replace(b'"version": 3', b'"version": 99', 1), "version 99"),
        (lambda b: b.replace(b"tiergate-router", b"something-else", 1), "format"),
        (lambda b: b[:-10], "truncated"),
        (lambda b: b[:-10] + b"0123456789", "checksum"),
    ],
)
def test_header_check_rejects_bad_files(
    trained: tuple[LearnedRouter, Path], tmp_path: Path, mutate: object, message: str
) -> None:
    _, path = trained
    bad = tmp_path / "bad.tgr"
    bad.write_bytes(mutate(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(RouterFileError, match=message):
        LearnedRouter.load(bad)


@pytest.mark.parametrize(
    "line, message",
    [
        ("{oops", "line 2: not valid JSON"),
        ('{"prompt": "", "outcomes": {"a": 1, "b": 0}}', "line 2: 'prompt'"),
        ('{"prompt": "x", "outcomes": {"a": 1}}', "at least two models"),
        ('{"prompt": "x", "outcomes": {"a": NaN, "b": 0}}', "must be finite"),
        ('{"prompt": "x", "outcomes": {"a": true, "b": 0}}', "must be a number"),
        ('{"prompt": "x", "outcomes": {"a": 1, "c": 0}}', "line 2: models"),
    ],
)
def test_malformed_lines_name_the_line(line: str, message: str) -> None:
    good = '{"prompt": "q", "outcomes": {"a": 1, "b": 0}}'
    with pytest.raises(OutcomeDataError, match=message):
        parse_lines([good, line])


def test_pair_inference_and_graded_three_models() -> None:
    rows = [
        f'{{"prompt": "p{i}", "outcomes": {{"small": {i / 10:.1f}, "mid": 0.5, "big": 0.9}}}}'
        for i in range(6)
    ]
    data = parse_lines(rows)
    pair = choose_pair(data)
    assert (pair.weak, pair.strong, pair.inferred) == ("small", "big", True)
    named = choose_pair(data, weak="mid", strong="big")
    assert not named.inferred
    with pytest.raises(OutcomeDataError, match="not in the data"):
        choose_pair(data, weak="nope")
    scores = train_router(data, pair, "stats", folds=0).scores(list(data.prompts))
    assert np.all(np.isfinite(scores))


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, tiergate.routing.learned, tiergate.evaluation; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
