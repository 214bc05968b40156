"""``tiergate batch`` against a running gateway: submit (both input shapes) with a progress
bar, status, results and cancel, through the gateway's batch HTTP APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tiergate.cli.batch import usd
from tiergate.cli.main import main

USAGE = FakeUsage(input_tokens=900, output_tokens=60)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["batch", *args], env={"COLUMNS": "160"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def anthropic_lines(path: Path, n: int) -> Path:
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "t"}],
    }
    path.write_text(
        "".join(json.dumps({"custom_id": f"r{i}", "params": params}) + "\n" for i in range(n))
    )
    return path


def test_submit_waits_with_a_progress_bar_then_results(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = make_gateway()
    anthropic_upstream.default = Reply(text="ok", usage=USAGE)
    code, out, err = run(
        "submit",
        str(anthropic_lines(tmp_path / "in.jsonl", 4)),
        "--url",
        gateway,
        "--interval",
        "0.2",
    )
    assert code == 0, err
    batch_id, summary = out.strip().splitlines()
    assert batch_id.startswith("msgbatch_")
    assert summary.startswith("ended: 4 done, 0 failed, spend $0.0")
    assert "4/4" in err and "failed 0" in err and "spend $0.0" in err and "ETA" in err
    code, out, _ = run("status", batch_id, "--url", gateway, "--json")
    shown = json.loads(out)
    assert (shown["status"], shown["done"], shown["failed"], shown["total"]) == ("ended", 4, 0, 4)
    assert shown["spend_usd"] > 0
    code, out, _ = run("results", batch_id, "--url", gateway)
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["r0", "r1", "r2", "r3"]
    assert {line["result"]["type"] for line in lines} == {"succeeded"}
    code, _, err = run("results", batch_id, "--url", gateway, "--out", str(tmp_path / "o.jsonl"))
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 4 and "4 results" in err


def test_openai_batch_lines_go_through_the_files_and_batch_apis(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = make_gateway()
    openai_upstream.default = Reply(text="ok", usage=USAGE)
    body = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "t"}]}
    path = tmp_path / "in.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "custom_id": f"o{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": body,
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    code, out, err = run("submit", str(path), "--url", gateway, "--interval", "0.2")
    assert code == 0, err
    batch_id = out.splitlines()[0]
    assert batch_id.startswith("batch_") and "3/3" in err
    code, out, _ = run("results", batch_id, "--url", gateway)
    assert sorted(json.loads(line)["custom_id"] for line in out.splitlines()) == ["o0", "o1", "o2"]


def test_cancel_stops_what_has_not_started(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = make_gateway(batch={"concurrency": 1})
    anthropic_upstream.default = Reply(text="ok", usage=USAGE, delay=0.5)
    code, out, _ = run(
        "submit", str(anthropic_lines(tmp_path / "in.jsonl", 6)), "--url", gateway, "--no-wait"
    )
    batch_id = out.strip()
    code, out, err = run("cancel", batch_id, "--url", gateway)
    assert code == 0, err
    assert batch_id in out and ("canceling" in out or "ended" in out)
    code, out, err = run(
        "status", batch_id, "--url", gateway, "--watch", "--interval", "0.2", "--json"
    )
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "ended" and "/6" in err
    assert shown["done"] + shown["failed"] == 6 and shown["failed"] >= 1  # not started: canceled


def test_errors_name_the_problem(make_gateway: Callable[..., str], tmp_path: Path) -> None:
    gateway = make_gateway()
    code, _, err = run("status", "msgbatch_nope", "--url", gateway)
    assert code == 1 and "404" in err
    code, _, err = run("status", "msgbatch_nope", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the gateway" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "a", "prompt": "x"}\n')
    code, _, err = run("submit", str(bad), "--url", gateway)
    assert code == 1 and "neither shape" in err
    bad.write_text("not json\n")
    code, _, err = run("submit", str(bad), "--url", gateway)
    assert code == 1 and "bad.jsonl:1: not JSON" in err


def test_money_prints_with_the_sign_before_the_dollar() -> None:
    assert [usd(-0.8573), usd(0.00123), usd(1234.5), usd(0), usd(None)] == [
        "-$0.86",
        "$0.0012",
        "$1,234.50",
        "$0.00",
        "—",
    ]
