"""``tiergate eval sample``: live traffic through a real gateway becomes an evaluation set,
redacted as the log keeps it, and ``eval run`` runs it; with body logging off it refuses."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml
from click.testing import CliRunner

from tests.fakes.quality import ScriptedQuality, make_tasks
from tests.fakes.upstream import FakeUpstream
from tiergate.cli.main import main

ROUTES = {"triage": {"ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"]}}


def _traffic(url: str, prompts: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for prompt in prompts:
            answer = client.post(
                "/v1/chat/completions",
                json={"model": "triage", "messages": [{"role": "user", "content": prompt}]},
            )
            assert answer.status_code == 200, answer.text


def _logged(data_dir: Path, count: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(data_dir / "tiergate.db") as db:
            if db.execute("SELECT count(*) FROM requests").fetchone()[0] >= count:
                return
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _config(tmp_path: Path, anthropic: FakeUpstream) -> Path:
    path = tmp_path / "cli.yaml"
    deployments = [
        {
            "name": f"d-{m}",
            "model": m,
            "provider": "anthropic",
            "base_url": anthropic.url,
            "api_key": "k",
        }
        for m in ROUTES["triage"]["ladder"]
    ]
    config = {"data_dir": str(tmp_path), "routes": ROUTES, "deployments": deployments}
    path.write_text(yaml.safe_dump(config))
    return path


def test_sampled_traffic_becomes_an_evaluation_set(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    tasks = make_tasks(30)
    anthropic_upstream.responder = ScriptedQuality(
        tasks,
        {
            "claude-haiku-4-5": {"easy": 0.9, "hard": 0.5},
            "claude-sonnet-4-6": {"easy": 1.0, "hard": 0.9},
        },
    )
    url = make_gateway(log={"bodies": True}, routes=ROUTES)
    prompts = [task.prompt for task in tasks] + ["write to me at ann@example.com please"]
    _traffic(url, prompts)
    _logged(tmp_path, len(prompts))
    config = _config(tmp_path, anthropic_upstream)
    out = tmp_path / "sample.jsonl"
    result = CliRunner().invoke(
        main,
        [
            *["eval", "sample", "--route", "triage", "--size", "20", "--out", str(out)],
            *["--config", str(config)],
        ],
    )
    assert result.exit_code == 0, result.output
    assert "redacted" in result.output  # stderr note (the runner mixes the streams)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 20 and all(line["route"] == "triage" for line in lines)
    assert {line["prompt"] for line in lines} <= {*prompts[:-1], "write to me at [EMAIL] please"}
    everything = CliRunner().invoke(
        main, ["eval", "sample", "--route", "triage", "--size", "99", "--config", str(config)]
    )
    assert "[EMAIL]" in everything.stdout and "ann@example.com" not in everything.stdout
    # The sample runs as an evaluation set; its traffic is not sampled again.
    run = CliRunner().invoke(
        main,
        [
            *["eval", "run", str(out), "--models", "claude-haiku-4-5,claude-sonnet-4-6"],
            *["--scorer", "regex", "--pattern", "case code C", "--config", str(config), "--json"],
            *["--no-progress"],
        ],
    )
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    assert summary["route"] == "triage" and summary["items"] == 20
    again = CliRunner().invoke(
        main, ["eval", "sample", "--route", "triage", "--size", "99", "--config", str(config)]
    )
    assert len(again.stdout.splitlines()) == len(prompts)


def test_sampling_without_logged_prompts_is_refused(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    url = make_gateway(routes=ROUTES)  # log.bodies is off by default
    _traffic(url, ["one", "two"])
    _logged(tmp_path, 2)
    config = _config(tmp_path, anthropic_upstream)
    result = CliRunner().invoke(
        main, ["eval", "sample", "--route", "triage", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert "body logging is off" in result.output and "log.bodies" in result.output
