"""``tiergate router`` through click's CliRunner: the --json contract, PNG, calibrate."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiergate.cli.router import router
from tiergate.routing.learned import LearnedRouter

DATA = Path(__file__).parents[1] / "fixtures" / "routing" / "synthetic.jsonl"
REAL = Path("/work/shared/data/routing/mmlu_outcomes.jsonl")


def _json(output: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(output)
    return result


def test_eval_cv_json_has_contract_keys(tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    res = CliRunner().invoke(
        router, ["eval", str(DATA), "--folds", "3", "--json", "--plot", str(png)]
    )
    assert res.exit_code == 0, res.stderr
    out = _json(res.stdout)
    assert {"APGR", "CPT50", "CPT80", "method", "baselines"} <= set(out)
    assert out["method"] == "exact"
    assert 0.6 < float(out["APGR"]) <= 1.2  # type: ignore[arg-type]
    assert 0.0 <= float(out["CPT80"]) <= 100.0  # type: ignore[arg-type]
    assert out["baselines"]["random"]["APGR_exact"] == 0.5  # type: ignore[index]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "inferred" in res.stderr  # the pair guess is announced, on stderr only


def test_train_eval_calibrate_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "router.tgr"
    res = runner.invoke(router, ["train", str(DATA), "--out", str(path), "--folds", "2"])
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(router, ["eval", str(DATA), "--router", str(path), "--json"])
    assert res.exit_code == 0, res.stderr
    assert _json(res.stdout)["APGR"] > 0.6  # type: ignore[operator]
    res = runner.invoke(
        router, ["calibrate", str(DATA), "--router", str(path), "--strong-share", "0.3", "--json"]
    )
    assert res.exit_code == 0, res.stderr
    assert LearnedRouter.load(path).threshold == pytest.approx(_json(res.stdout)["threshold"])
    res = runner.invoke(router, ["calibrate", str(DATA), "--router", str(path)])
    assert res.exit_code != 0 and "exactly one" in res.stderr


def test_bad_data_and_bad_router_file_fail_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "outcomes": {"x": 1, "y": 0}}\n{broken\n')
    res = CliRunner().invoke(router, ["eval", str(bad)])
    assert res.exit_code == 1 and "line 2" in res.stderr
    fake = tmp_path / "fake.tgr"
    fake.write_text("hello\n")
    res = CliRunner().invoke(router, ["eval", str(DATA), "--router", str(fake)])
    assert res.exit_code == 1 and "not a tiergate router file" in res.stderr


def test_bad_options_are_error_messages_not_tracebacks(tmp_path: Path) -> None:
    out = tmp_path / "r.tgr"
    for args in (["--folds", "1"], ["--features", "bogus"], ["--strong-share", "2"]):
        res = CliRunner().invoke(router, ["train", str(DATA), "--out", str(out), *args])
        assert res.exit_code == 1 and "\nError: " in res.stderr, (args, res.stderr)
        assert isinstance(res.exception, SystemExit)
    nowhere = tmp_path / "missing" / "curve.png"
    res = CliRunner().invoke(
        router, ["eval", str(DATA), "--folds", "3", "--json", "--plot", str(nowhere)]
    )
    assert res.exit_code == 1 and f"could not write {nowhere}" in res.stderr
    assert "APGR" in json.loads(res.stdout)  # the figures still went out


@pytest.mark.skipif(not REAL.exists(), reason="shared MMLU outcome data not present")
def test_real_mmlu_two_fold_stats_beats_random() -> None:
    res = CliRunner().invoke(
        router, ["eval", str(REAL), "--folds", "2", "--features", "stats", "--json"]
    )
    assert res.exit_code == 0, res.stderr
    assert _json(res.stdout)["APGR"] > 0.62  # type: ignore[operator]


def test_json_stays_strict_when_a_figure_is_undefined(tmp_path: Path) -> None:
    """Both models equally good on every prompt: APGR is undefined (no gap to recover). The
    ``--json`` output says null there, and parses as strict JSON (no bare NaN)."""
    same = tmp_path / "same.jsonl"
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    for row in rows:
        row["outcomes"]["cheap-model"] = row["outcomes"]["big-model"]
    same.write_text("".join(json.dumps(row) + "\n" for row in rows))
    res = CliRunner().invoke(router, ["eval", str(same), "--folds", "3", "--json"])
    assert res.exit_code == 0, res.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    out = json.loads(res.stdout, parse_constant=refuse)
    assert out["APGR"] is None


def test_no_domain_prior_flag_leaves_the_labels_unused(tmp_path: Path) -> None:
    runner = CliRunner()
    reports = {}
    for flags in ([], ["--no-domain-prior"]):
        res = runner.invoke(router, ["eval", str(DATA), "--folds", "2", "--json", *flags])
        assert res.exit_code == 0, res.stderr
        reports[bool(flags)] = _json(res.stdout)
    assert str(reports[False]["domain_prior"]).startswith("fitted per training fold")
    assert reports[True]["domain_prior"] == "off"
    path = tmp_path / "plain.tgr"
    res = runner.invoke(
        router, ["train", str(DATA), "--out", str(path), "--folds", "0", "--no-domain-prior"]
    )
    assert res.exit_code == 0, res.stderr
    assert LearnedRouter.load(path).domain_prior is None
    assert LearnedRouter.load(path).header["domain_prior"] is None
