"""The evaluation loop of docs/evaluation.md on fake upstreams of known quality.

    PYTHONPATH=. python bench/evaluation/loop_on_fakes.py --dir /tmp/tg-eval          # serve
    PYTHONPATH=. python bench/evaluation/loop_on_fakes.py --dir /tmp/tg-eval --run    # and run

Starts a fake Anthropic and a fake OpenAI API on loopback whose models answer an evaluation
set right with a scripted probability per prompt type (``tests/fakes/quality.py``), writes
``tiergate.yaml`` (deployments on the fakes, a ``triage`` ladder route) and ``set.jsonl``
(400 prompts, half easy, half hard) into ``--dir``, then either waits (paste the commands of
docs/evaluation.md in another shell, in that directory) or, with ``--run``, runs them itself
and prints their output. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.fakes.quality import JudgeScript, ScriptedQuality, make_tasks
from tests.fakes.upstream import FakeUpstream

HAIKU, SONNET, GPT, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "gpt-5.4", "claude-opus-4-7"
ACCURACY = {HAIKU: {"easy": 0.95, "hard": 0.45}, SONNET: {"easy": 0.97, "hard": 0.93}}
JUDGES = {GPT: JudgeScript(unsure=0.2, wrong=0.03), OPUS: JudgeScript()}

COMMANDS = [
    "tiergate eval run set.jsonl --models claude-haiku-4-5,claude-sonnet-4-6,triage "
    "--scorer contains --route triage --config tiergate.yaml --report report.md "
    "--outcomes outcomes.jsonl --no-progress",
    "tiergate eval run labelled.jsonl --models claude-haiku-4-5 --scorer judge "
    "--judge gpt-5.4 --strong-judge claude-opus-4-7 --rubric rubric.txt --results judged.jsonl "
    "--config tiergate.yaml --no-progress",
    "tiergate eval run set.jsonl --models claude-haiku-4-5,claude-sonnet-4-6 --scorer judge "
    "--pairwise --judge gpt-5.4 --strong-judge claude-opus-4-7 --results pairwise.jsonl "
    "--config tiergate.yaml --no-progress",
    "tiergate eval run set.jsonl --models claude-haiku-4-5,claude-sonnet-4-6 --scorer contains "
    "--results budget.jsonl --budget-usd 0.05 --config tiergate.yaml --no-progress",
    "tiergate eval run set.jsonl --models claude-haiku-4-5,claude-sonnet-4-6 --scorer contains "
    "--results budget.jsonl --config tiergate.yaml --no-progress",
    "tiergate router train --from-log --route triage --weak claude-haiku-4-5 "
    "--strong claude-sonnet-4-6 --out triage.tgr --config tiergate.yaml",
    "TIERGATE_CONFIG=tiergate.yaml tiergate report",
]


def prepare(directory: Path, anthropic: FakeUpstream, openai: FakeUpstream) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tasks = make_tasks(400)
    quality = ScriptedQuality(tasks, ACCURACY, judges=JUDGES)
    anthropic.responder = openai.responder = quality
    deployments = [
        {
            "name": f"fake-{m}",
            "model": m,
            "provider": "anthropic",
            "base_url": anthropic.url,
            "api_key": "sk-ant-fake",
        }
        for m in (HAIKU, SONNET, OPUS)
    ]
    deployments.append(
        {
            "name": "fake-gpt",
            "model": GPT,
            "provider": "openai",
            "base_url": openai.url + "/v1",
            "api_key": "sk-fake",
        }
    )
    config = {
        "data_dir": str(directory / "data"),
        "deployments": deployments,
        "routes": {
            "triage": {
                "ladder": [HAIKU, SONNET],
                "validators": [{"type": "regex", "pattern": "code is C[0-9A-F]{6}"}],
            }
        },
    }
    (directory / "tiergate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (directory / "set.jsonl").write_text("".join(t.line() + "\n" for t in tasks))
    labelled = [t.line(label=int(quality.right(HAIKU, t))) for t in tasks[:200]]
    (directory / "labelled.jsonl").write_text("\n".join(labelled) + "\n")
    (directory / "rubric.txt").write_text(
        "10 when the reply gives the case code the question names, 0 otherwise.\n"
    )
    truth = {m: round(quality.expected(m), 4) for m in ACCURACY}
    (directory / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/tiergate-eval", type=Path)
    parser.add_argument("--run", action="store_true", help="run the documented commands")
    args = parser.parse_args()
    with FakeUpstream("anthropic") as anthropic, FakeUpstream("openai") as openai:
        prepare(args.dir, anthropic, openai)
        print(f"fakes on {anthropic.url} and {openai.url}; files in {args.dir}", flush=True)
        if not args.run:
            print("paste the commands of docs/evaluation.md there; Ctrl-C to stop", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        env = {**os.environ, "TIERGATE_CONFIG": ""}
        for command in COMMANDS:
            print(f"\n$ {command}", flush=True)
            words, here = shlex.split(command), dict(env)
            while "=" in words[0]:  # VAR=value before the command
                name, value = words.pop(0).split("=", 1)
                here[name] = value
            argv = [sys.executable, "-m", "tiergate.cli", *words[1:]]
            subprocess.run(argv, cwd=args.dir, env=here, check=False)


if __name__ == "__main__":
    main()
