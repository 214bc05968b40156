"""``tiergate eval run`` against fake upstreams whose quality per prompt type is scripted.

The fakes answer each prompt right with a known probability per model and prompt type
(``tests.fakes.quality``), so the figures the command prints can be checked against the
scripted truth: the recommendation, the intervals, the judge's agreement, and a router
trained on the results. Runs in process through click's runner (the gateway pipeline runs in
the same process, the upstreams on loopback); kill and resume runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.fakes.quality import JudgeScript, ScriptedQuality, Task, make_tasks
from tests.fakes.upstream import FakeUpstream
from tiergate.cli.main import main

HAIKU, SONNET, GPT, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "gpt-5.4", "claude-opus-4-7"
# The cheap model fails often on hard prompts; the strong one rarely.
APART = {
    HAIKU: {"easy": 0.95, "hard": 0.45},
    SONNET: {"easy": 0.97, "hard": 0.93},
    GPT: {"easy": 0.9, "hard": 0.8},
}
# The cheap model is almost as good: it should be recommended.
CLOSE = {
    HAIKU: {"easy": 0.97, "hard": 0.92},
    SONNET: {"easy": 0.97, "hard": 0.94},
    GPT: {"easy": 0.9, "hard": 0.8},
}


def write_config(
    tmp_path: Path, anthropic: FakeUpstream, openai: FakeUpstream, **extra: Any
) -> Path:
    deployments = [
        {
            "name": f"d-{model}",
            "model": model,
            "provider": "anthropic",
            "base_url": anthropic.url,
            "api_key": "sk-ant-test",
        }
        for model in (HAIKU, SONNET, OPUS)
    ] + [
        {
            "name": "d-gpt",
            "model": GPT,
            "provider": "openai",
            "base_url": openai.url + "/v1",
            "api_key": "sk-test",
        }
    ]
    config = {
        "deployments": deployments,
        "retry": {"max_retries": 0, "breaker_failures": 1000},
        "data_dir": str(tmp_path / "data"),
        "routes": {"triage": {"ladder": [HAIKU, SONNET]}},
        **extra,
    }
    path = tmp_path / "tiergate.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def script(upstreams: tuple[FakeUpstream, ...], quality: ScriptedQuality) -> None:
    for upstream in upstreams:
        upstream.responder = quality


def write_set(path: Path, tasks: list[Task], **extra: Any) -> Path:
    path.write_text("".join(task.line(**extra) + "\n" for task in tasks))
    return path


def run_cli(args: list[str], code: int = 0, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(main, args, catch_exceptions=False, env=env)
    assert result.exit_code == code, result.output
    return dict(json.loads(result.stdout))


def answers_sent(*upstreams: FakeUpstream) -> Counter[tuple[str, str]]:
    """(model, prompt) of every answer request the fakes received (judge requests apart)."""
    sent: Counter[tuple[str, str]] = Counter()
    for upstream in upstreams:
        for request in upstream.requests:
            body = request.json
            if not isinstance(body, dict) or "messages" not in body:
                continue
            text = body["messages"][-1]["content"]
            text = text if isinstance(text, str) else text[0]["text"]
            if "<question>" not in text:
                sent[(body["model"], text)] += 1
    return sent


@pytest.fixture
def fakes(
    anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> tuple[FakeUpstream, FakeUpstream]:
    return anthropic_upstream, openai_upstream


def test_recommends_the_strong_model_when_the_cheap_one_is_worse(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    tasks = make_tasks(300)
    quality = ScriptedQuality(tasks, APART)
    script(fakes, quality)
    config = write_config(tmp_path, *fakes)
    data = write_set(tmp_path / "set.jsonl", tasks)
    summary = run_cli(
        [
            *["eval", "run", str(data), "--models", f"{HAIKU},{SONNET},{GPT}"],
            *["--scorer", "contains", "--config", str(config), "--json", "--no-progress"],
            *["--concurrency", "8", "--report", str(tmp_path / "report.md")],
        ]
    )
    assert summary["complete"] and summary["items"] == 300
    rows = {row["model"]: row for row in summary["models"]}
    for model, row in rows.items():
        truth = quality.expected(model)
        low, high = row["ci95"]
        assert low <= truth <= high, (model, truth, row["ci95"])
        assert row["interval"] == "wilson"
        assert row["cost_per_1k_usd"] > 0 and row["latency_ms"]["p95"] >= row["latency_ms"]["p50"]
    # Sonnet costs 3x Haiku per token, and both answer with the same token counts.
    assert rows[SONNET]["cost_per_1k_usd"] == pytest.approx(3 * rows[HAIKU]["cost_per_1k_usd"])
    recommendation = summary["recommendation"]
    assert recommendation["model"] == SONNET == recommendation["best"]
    assert "delta" in recommendation["rule"]
    pair = next(p for p in summary["pairs"] if {p["a"], p["b"]} == {HAIKU, SONNET})
    assert pair["win"] + pair["tie"] + pair["loss"] == 300
    sign = 1 if pair["a"] == SONNET else -1
    truth = quality.expected(SONNET) - quality.expected(HAIKU)
    low, high = (sign * x for x in pair["difference_ci95"])
    assert min(low, high) <= truth <= max(low, high)
    assert (tmp_path / "report.md").read_text().count(f"**Recommendation: {SONNET}**") == 1
    assert (tmp_path / "report.png").stat().st_size > 1000
    # Every call went through the pipeline once, logged as this run's evaluation traffic.
    assert set(answers_sent(*fakes).values()) == {1}
    with sqlite3.connect(tmp_path / "data" / "tiergate.db") as db:
        tags = db.execute("SELECT batch_id, count(*) FROM requests GROUP BY batch_id").fetchall()
    assert tags == [(f"eval_{summary['run']}", 900)]


def test_recommends_the_cheap_model_when_it_is_close_enough(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    tasks = make_tasks(300)
    script(fakes, ScriptedQuality(tasks, CLOSE))
    config = write_config(tmp_path, *fakes)
    data = write_set(tmp_path / "set.jsonl", tasks)
    summary = run_cli(
        [
            *["eval", "run", str(data), "--models", f"{SONNET},{HAIKU}", "--scorer", "regex"],
            *["--delta", "0.05", "--config", str(config), "--json", "--no-progress"],
        ]
    )
    recommendation = summary["recommendation"]
    assert recommendation["model"] == HAIKU
    low = next(q for q in recommendation["qualifying"] if q["model"] == HAIKU)["difference_ci95"][0]
    assert low >= -0.05
    # A tighter delta no longer lets the cheap model through; nothing is asked again.
    again = run_cli(
        [
            *["eval", "run", str(data), "--models", f"{SONNET},{HAIKU}", "--scorer", "regex"],
            *["--delta", "0.001", "--config", str(config), "--json", "--no-progress"],
        ]
    )
    assert again["recommendation"]["model"] == SONNET
    assert again["calls"] == {"sent": 0, "resumed": 600, "resent_after_kill": 0}
    assert set(answers_sent(*fakes).values()) == {1}


def test_results_train_a_router_that_beats_random_on_held_out_rows(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    tasks = make_tasks(300)
    script(fakes, ScriptedQuality(tasks, APART))
    config = write_config(tmp_path, *fakes)
    data = write_set(tmp_path / "set.jsonl", tasks)
    outcomes = tmp_path / "outcomes.jsonl"
    run_cli(
        [
            *["eval", "run", str(data), "--models", f"{HAIKU},{SONNET}", "--scorer", "contains"],
            *["--route", "triage", "--outcomes", str(outcomes), "--config", str(config)],
            *["--json", "--no-progress"],
        ]
    )
    lines = [json.loads(line) for line in outcomes.read_text().splitlines()]
    assert len(lines) == 300 and set(lines[0]["outcomes"]) == {HAIKU, SONNET}
    # The file trains a router (the usual command); scored on rows it never saw.
    train, held = tmp_path / "train.jsonl", tmp_path / "held.jsonl"
    train.write_text("".join(json.dumps(line) + "\n" for line in lines[:200]))
    held.write_text("".join(json.dumps(line) + "\n" for line in lines[200:]))
    router = tmp_path / "router.tgr"
    result = CliRunner().invoke(
        main,
        [
            *["router", "train", str(train), "--out", str(router), "--weak", HAIKU],
            *["--strong", SONNET, "--folds", "0", "--features", "tfidf"],
        ],
    )
    assert result.exit_code == 0, result.output
    scored = run_cli(["router", "eval", str(held), "--router", str(router), "--json"])
    assert scored["APGR"] > 0.6 > scored["baselines"]["random"]["APGR_exact"] == 0.5
    # In one step from the store: the run wrote its outcome rows for route "triage".
    made = run_cli(
        [
            *["router", "train", "--from-log", "--route", "triage"],
            *["--out", str(tmp_path / "from-log.tgr"), "--config", str(config), "--json"],
            *["--features", "tfidf", "--folds", "0"],
        ]
    )
    assert made["weak"] == HAIKU and made["strong"] == SONNET
    assert made["trained_on"] + made["held_out"] == 300
    assert made["held_out_metrics"]["APGR"] > 0.6
    assert made["calibration"]["quality"] >= made["target_quality"] - 1e-9
    assert made["calibration"]["strong_share"] < 0.9


def test_a_distilled_judge_escalates_unsure_cases_and_reports_agreement(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    tasks = make_tasks(200)
    quality = ScriptedQuality(
        tasks, APART, judges={GPT: JudgeScript(unsure=0.2, wrong=0.03), OPUS: JudgeScript()}
    )
    script(fakes, quality)
    config = write_config(tmp_path, *fakes)
    labelled = [task.line(label=int(quality.right(HAIKU, task))) for task in tasks]
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(labelled) + "\n")
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("10 when the reply gives the case code the question names, else 0.")
    summary = run_cli(
        [
            *["eval", "run", str(data), "--models", HAIKU, "--scorer", "judge", "--judge", GPT],
            *["--strong-judge", OPUS, "--rubric", str(rubric), "--judge-audit", "0.2"],
            *["--config", str(config), "--json", "--no-progress"],
        ]
    )
    judge = summary["judge"]
    assert judge["verdicts"] == 200
    assert 20 <= judge["escalated"] <= 60  # about 20% unsure
    assert judge["calls"][OPUS] == judge["escalated"] + judge["audited"] > judge["escalated"]
    assert judge["cost_usd"][OPUS] > 0 and judge["cost_usd"][GPT] > 0
    assert judge["total_cost_usd"] == pytest.approx(sum(judge["cost_usd"].values()))
    # The strong judge decides the unsure cases and is right: the final verdicts match the
    # labels but for the cheap judge's few confident mistakes outside the audit.
    assert judge["final_vs_labels"]["agreement"] >= 0.95
    assert judge["cheap_vs_labels"]["agreement"] < judge["final_vs_labels"]["agreement"]
    assert judge["agreement_on_audit"]["n"] == judge["audited"]
    row = summary["models"][0]
    assert row["interval"] == "bootstrap"
    truth = quality.expected(HAIKU)
    assert row["ci95"][0] - 0.03 <= truth <= row["ci95"][1] + 0.03


def test_pairwise_judging_in_both_orders_cancels_position_bias(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    tasks = make_tasks(120)
    # The cheap judge prefers the first answer shown 30% of the time.
    quality = ScriptedQuality(
        tasks, APART, judges={GPT: JudgeScript(unsure=0.3), OPUS: JudgeScript()}
    )
    script(fakes, quality)
    config = write_config(tmp_path, *fakes)
    data = write_set(tmp_path / "set.jsonl", tasks)
    summary = run_cli(
        [
            *["eval", "run", str(data), "--models", f"{HAIKU},{SONNET}", "--scorer", "judge"],
            *["--pairwise", "--judge", GPT, "--strong-judge", OPUS, "--config", str(config)],
            *["--json", "--no-progress"],
        ]
    )
    pair = summary["pairs"][0]
    assert pair["n"] == 120
    wins = {HAIKU: 0, SONNET: 0}
    for task in tasks:
        right = {m: quality.right(m, task) for m in wins}
        if right[HAIKU] != right[SONNET]:
            wins[HAIKU if right[HAIKU] else SONNET] += 1
    a_wins = wins[pair["a"]]
    assert (pair["win"], pair["loss"]) == (a_wins, wins[pair["b"]])
    assert summary["judge"]["escalated"] > 0
    assert summary["recommendation"]["model"] == SONNET


def test_bad_input_is_refused_before_anything_is_paid(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    config = write_config(tmp_path, *fakes)
    data = tmp_path / "set.jsonl"
    data.write_text('{"id": 1, "prompt": "hi"}\n')
    runner = CliRunner()
    for args, message in (
        (["--models", "claude-haku-4-5", "--scorer", "regex", "--pattern", "x"], "did you mean"),
        (["--models", HAIKU], 'needs a "reference"'),
        (["--models", HAIKU, "--scorer", "judge"], "--judge"),
        (["--models", HAIKU, "--scorer", "regex", "--pattern", "("], "regex scorer"),
    ):
        result = runner.invoke(main, ["eval", "run", str(data), *args, "--config", str(config)])
        assert result.exit_code != 0 and message in result.output, result.output
    data.write_text('{"id": 1, "prompt": "hi"}\n{"id": 1, "prompt": "again"}\n')
    result = runner.invoke(
        main,
        [
            *["eval", "run", str(data), "--models", HAIKU, "--config", str(config)],
            *["--scorer", "regex", "--pattern", "x"],
        ],
    )
    assert result.exit_code != 0 and "line 2: id '1' appears twice" in result.output
    assert not answers_sent(*fakes)


def test_budget_stops_the_run_and_a_larger_one_finishes_it(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path, database_url: str | None
) -> None:
    """On both stores: the request log and the outcome rows of a run stopped and resumed."""
    tasks = make_tasks(200)
    script(fakes, ScriptedQuality(tasks, APART))
    extra = {"database_url": database_url} if database_url else {}
    config = write_config(tmp_path, *fakes, **extra)
    data = write_set(tmp_path / "set.jsonl", tasks)
    args = [
        *["eval", "run", str(data), "--models", f"{HAIKU},{SONNET}", "--scorer", "contains"],
        *["--config", str(config), "--json", "--no-progress", "--route", "budgeted"],
        *["--budget-usd"],
    ]
    stopped = run_cli([*args, "0.01"], code=3)
    assert stopped["stopped"] == "budget" and not stopped["complete"]
    assert 0 < stopped["items"] < 200
    assert stopped["cost_usd"]["total"] <= 0.01
    finished = run_cli([*args, "1"])
    assert finished["complete"] and finished["items"] == 200
    assert finished["calls"]["resumed"] == 2 * stopped["items"]
    assert set(answers_sent(*fakes).values()) == {1}
    assert finished["cost_usd"]["total"] == pytest.approx(
        stopped["cost_usd"]["total"] + finished["cost_usd"]["this_run"]
    )
    report = run_cli(
        ["report", "--json"]
        if database_url is None
        else ["report", "--json", "--database-url", database_url],
        env={"TIERGATE_CONFIG": str(config)},
    )
    runs = {(row["run"], row["model"]): row["requests"] for row in report["evaluations"]}
    assert runs == {(finished["run"], HAIKU): 200, (finished["run"], SONNET): 200}
    made = run_cli(
        [
            *["router", "train", "--from-log", "--route", "budgeted"],
            *["--out", str(tmp_path / "r.tgr"), "--config", str(config), "--json"],
            *["--features", "tfidf", "--folds", "0"],
        ]
    )
    assert made["rows"] == 400


def _spawn(args: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, "-m", "tiergate.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )


def _wait_for(upstreams: tuple[FakeUpstream, ...], count: int, process: Any) -> None:
    deadline = time.monotonic() + 60
    while sum(len(u.requests) for u in upstreams) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the evaluation did not get going"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"]
)
def test_a_killed_run_resumes_and_pays_for_no_answer_twice(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path, how: signal.Signals
) -> None:
    tasks = make_tasks(150)
    script(fakes, ScriptedQuality(tasks, APART, delay=0.02))
    config = write_config(tmp_path, *fakes)
    data = write_set(tmp_path / "set.jsonl", tasks)
    args = [
        *["eval", "run", str(data), "--models", f"{HAIKU},{SONNET}"],
        *["--scorer", "contains", "--config", str(config), "--json", "--concurrency", "4"],
    ]
    process = _spawn(args, tmp_path)  # with the progress bar (on stderr)
    _wait_for(fakes, 60, process)
    process.send_signal(how)
    out, err = process.communicate(timeout=60)
    sent_first = sum(answers_sent(*fakes).values())
    assert sent_first < 300, "the run ended before it was stopped"
    if how == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # a clean stop: the calls in flight finish and are kept
        assert process.returncode == 3, err.decode()
        assert json.loads(out)["stopped"] == "signal"
    resumed = run_cli(args)
    assert resumed["complete"] and resumed["items"] == 150
    sent = answers_sent(*fakes)
    # A call marked sent may not have reached the upstream before the kill.
    assert 300 <= sum(sent.values()) <= 300 + resumed["calls"]["resent_after_kill"]
    if how == signal.SIGKILL:  # only the calls in flight at the kill are asked again
        assert resumed["calls"]["resent_after_kill"] <= 4 * 2
        assert max(sent.values()) <= 2
    else:
        assert resumed["calls"]["resent_after_kill"] == 0
        assert set(sent.values()) == {1}
    assert resumed["calls"]["resumed"] + resumed["calls"]["sent"] == 300


def test_messages_and_structured_scorers_through_the_pipeline(
    fakes: tuple[FakeUpstream, FakeUpstream], tmp_path: Path
) -> None:
    """Chat-format lines (a system prompt, turns) reach both upstream formats; the fakes echo
    the last user message, so JSON in it comes back as the answer to score."""
    config = write_config(tmp_path, *fakes)
    data = tmp_path / "set.jsonl"
    lines = []
    for n in range(20):
        label = ("bug", "billing")[n % 2]
        messages = [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": "Ticket: it crashed."},
            {"role": "assistant", "content": "Which product?"},
            {"role": "user", "content": json.dumps({"label": label, "n": n})},
        ]
        lines.append(json.dumps({"id": f"m{n}", "messages": messages, "reference": "bug"}))
    data.write_text("\n".join(lines) + "\n")
    field = run_cli(
        [
            *["eval", "run", str(data), "--models", f"{HAIKU},{GPT}", "--scorer", "json-field"],
            *["--field", "label", "--config", str(config), "--json", "--no-progress"],
        ]
    )
    assert {row["model"]: row["quality"] for row in field["models"]} == {HAIKU: 0.5, GPT: 0.5}
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {"type": "object", "required": ["label", "n"], "properties": {"n": {"type": "integer"}}}
        )
    )
    valid = run_cli(
        [
            *["eval", "run", str(data), "--models", f"{HAIKU},{GPT}", "--scorer", "json-schema"],
            *["--schema", str(schema), "--config", str(config), "--json", "--no-progress"],
        ]
    )
    assert [row["quality"] for row in valid["models"]] == [1.0, 1.0]
    assert valid["calls"]["sent"] == 0  # the same calls: read back from the results file
    anthropic_body = fakes[0].last.json
    system = anthropic_body["system"]
    assert (system if isinstance(system, str) else system[0]["text"]) == "Answer in JSON."
    assert len(anthropic_body["messages"]) == 3
