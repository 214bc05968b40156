"""Judged shadow through the real gateway: a route's shadow candidate is graded against the
served answer by a judge model, off the request path, and the report gives the candidate's
judged quality with a 95% interval that covers the quality the fakes were scripted to have.

The fakes: the served model (claude-sonnet-4-6) always gives the right label; the candidate
(gpt-5.4) gives it on about 70% of the prompts (drawn once, with a fixed seed); the judge
(claude-haiku-4-5, on the same fake Anthropic server) knows the right label from the prompt,
and in pairwise mode always names the first answer when it cannot tell them apart, a position
bias the two orders must cancel."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.gateway_fixtures import cli_report
from tests.fakes.script import FakeUsage, Reply, Step
from tests.fakes.upstream import FakeUpstream
from tiergate.catalog import load_catalog
from tiergate.cost import usd_of
from tiergate.types import Usage

LABELS = ("billing", "shipping", "refund", "account")
TRUE_QUALITY = 0.7  # the candidate's share of right answers, as scripted
PROMPTS = 120
JUDGE_USAGE = FakeUsage(input_tokens=200, output_tokens=2)


def _truths(n: int) -> tuple[list[str], set[int]]:
    rng = random.Random(2026)
    truths = [rng.choice(LABELS) for _ in range(n)]
    wrong = {i for i in range(n) if rng.random() >= TRUE_QUALITY}
    return truths, wrong


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


def _last_user(body: dict[str, Any]) -> str:
    return _text([m for m in body["messages"] if m["role"] == "user"][-1]["content"])


def _tag(text: str, tag: str) -> str:
    found = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.S)
    assert found, (tag, text)
    return found.group(1)


def anthropic_side(body: dict[str, Any]) -> Step:
    """The served model answers right; the judge grades against the truth in the question."""
    asked = _last_user(body)
    if "haiku" not in body["model"]:
        return Reply(text=re.search(r"truth: (\w+)", asked).group(1))  # type: ignore[union-attr]
    truth = re.search(r"truth: (\w+)", _tag(asked, "question")).group(1)  # type: ignore[union-attr]
    if "<answer>" in asked:  # rubric
        verdict = "PASS" if _tag(asked, "answer") == truth else "FAIL"
        return Reply(text=verdict, usage=JUDGE_USAGE)
    a_right, b_right = (_tag(asked, t) == truth for t in ("answer_a", "answer_b"))
    choice = "B" if b_right and not a_right else "A"  # "A" whenever it cannot tell
    return Reply(text=choice, usage=JUDGE_USAGE)


def candidate_side(wrong: set[int]) -> Callable[[dict[str, Any]], Step]:
    def answer(body: dict[str, Any]) -> Step:
        asked = _last_user(body)
        index = int(re.search(r"ticket (\d+)", asked).group(1))  # type: ignore[union-attr]
        truth = re.search(r"truth: (\w+)", asked).group(1)  # type: ignore[union-attr]
        if index in wrong:
            return Reply(text=next(label for label in LABELS if label != truth))
        return Reply(text=truth)

    return answer


def run_traffic(gateway: str, truths: list[str]) -> None:
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)

    def ask(i: int) -> str:
        prompt = f"Label ticket {i} with one word. (truth: {truths[i]})"
        answer = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": prompt}]
        )
        return answer.choices[0].message.content or ""

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(len(truths))))
    assert answers == truths  # clients only ever see the served model's answers


def judged_report(gateway: str, pairs: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        data = httpx.get(gateway + "/v1/tiergate/report").json()
        done = sum(row["pairs"] for row in data["judged"])
        if done >= pairs or time.monotonic() > deadline:
            assert done == pairs, data["judged"]
            return dict(data)
        time.sleep(0.1)


def routes(mode: str) -> dict[str, Any]:
    shadow = {
        "model": "gpt-5.4",
        "sample": 1,
        "max_in_flight": 64,
        "judge": {"model": "claude-haiku-4-5", "mode": mode},
    }
    return {"auto": {"default": "claude-sonnet-4-6", "shadow": shadow}}


def test_a_rubric_judge_measures_the_scripted_quality_ratio(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truths, wrong = _truths(PROMPTS)
    anthropic_upstream.responder = anthropic_side
    openai_upstream.responder = candidate_side(wrong)
    gateway = make_gateway(routes=routes("rubric"), database_url=database_url)
    run_traffic(gateway, truths)
    data = judged_report(gateway, PROMPTS)
    assert data["totals"]["requests"] == PROMPTS  # judge calls are not served traffic
    (row,) = data["judged"]
    assert (row["kind"], row["route"], row["served_model"], row["candidate_model"]) == (
        "shadow",
        "auto",
        "claude-sonnet-4-6",
        "gpt-5.4",
    )
    assert row["judged"] == PROMPTS and row["judge_errors"] == 0
    observed = 1 - len(wrong) / PROMPTS
    assert row["served_pass_rate"] == 1.0
    assert row["candidate_pass_rate"] == pytest.approx(observed)
    assert row["quality_ratio"] == pytest.approx(observed)
    low, high = row["quality_ratio_ci"]
    assert low < TRUE_QUALITY < high and high - low < 0.25  # the scripted truth, in the interval
    low, high = row["quality_ci"]
    assert low < TRUE_QUALITY < high
    # Two judge calls a pair, priced at the judge's rates and logged with the verdict.
    per_call = usd_of(
        Usage(input_tokens=200, output_tokens=2), load_catalog().resolve("claude-haiku-4-5")
    )
    assert per_call is not None
    assert row["judge_calls"] == 2 * PROMPTS
    assert Decimal(str(row["judge_cost_usd"])) == 2 * PROMPTS * per_call

    printed = cli_report([], database_url, tmp_path, monkeypatch)
    assert "judged quality, candidate vs served" in printed
    line = next(x for x in printed.splitlines() if "gpt-5.4" in x and "rubric" in x)
    assert f"{observed:.2f} [{row['quality_ratio_ci'][0]:.2f}" in line


def test_a_pairwise_judge_in_both_orders_cancels_its_position_bias(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    truths, wrong = _truths(PROMPTS)
    anthropic_upstream.responder = anthropic_side
    openai_upstream.responder = candidate_side(wrong)
    gateway = make_gateway(routes=routes("pairwise"))
    run_traffic(gateway, truths)
    (row,) = judged_report(gateway, PROMPTS)["judged"]
    assert row["mode"] == "pairwise" and row["judged"] == PROMPTS
    # Never better than an always-right model; worse exactly where it was scripted wrong.
    assert row["win_rate"] == 0
    assert row["loss_rate"] == pytest.approx(len(wrong) / PROMPTS)
    low, high = row["loss_ci"]
    assert low < 1 - TRUE_QUALITY < high
    low, high = row["not_worse_ci"]
    assert low < TRUE_QUALITY < high
    # The biased judge said "A" on every pair it could not tell apart: one order for the
    # served answer, the other for the candidate's, so those pairs are ties, not losses.
    assert row["tie_rate"] == pytest.approx(1 - len(wrong) / PROMPTS)
    assert row["orders_agree_rate"] == pytest.approx(len(wrong) / PROMPTS)
    assert row["judge_calls"] == 2 * PROMPTS
    metrics = httpx.get(gateway + "/metrics").text
    assert f'tiergate_judged_pairs_total{{outcome="judged"}} {PROMPTS}.0' in metrics
