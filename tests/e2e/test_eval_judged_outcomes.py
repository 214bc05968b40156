"""Judged shadow pairs become outcome rows: ``router train --from-log`` trains on them.

The traffic and fakes of ``test_judged_shadow.py`` (served model always right, candidate right
on ~70%), with prompts logged (``log.bodies``), so each judged pair is a training row."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import CliRunner

from tests.e2e.test_judged_shadow import (
    PROMPTS,
    anthropic_side,
    candidate_side,
    judged_report,
    routes,
    run_traffic,
)
from tests.e2e.test_judged_shadow import _truths as truths_of
from tests.fakes.upstream import FakeUpstream
from tiergate.cli.main import main


def test_router_trains_from_judged_shadow_pairs(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    truths, wrong = truths_of(PROMPTS)
    anthropic_upstream.responder = anthropic_side
    openai_upstream.responder = candidate_side(wrong)
    gateway = make_gateway(routes=routes("rubric"), log={"bodies": True})
    run_traffic(gateway, truths)
    judged_report(gateway, PROMPTS)
    config = tmp_path / "cli.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path)}))
    result = CliRunner().invoke(
        main,
        [
            *["router", "train", "--from-log", "--route", "auto"],
            *["--out", str(tmp_path / "auto.tgr"), "--config", str(config), "--json"],
            *["--features", "tfidf", "--folds", "0"],
        ],
    )
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert "240 outcome rows of route 'auto' (240 shadow)" in result.output
    assert (made["weak"], made["strong"]) == ("gpt-5.4", "claude-sonnet-4-6")
    assert made["trained_on"] + made["held_out"] == PROMPTS
    assert (tmp_path / "auto.tgr").stat().st_size > 0
