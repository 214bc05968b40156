"""The parts of ``tiergate eval run`` that need no network: intervals, scorers, the judge's
reading of replies and its escalation rule, the evaluation set and the results file."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tiergate.evaluation.offline import (
    Answer,
    DistilledJudge,
    EvalDataError,
    EvalRun,
    Judge,
    RecordedCalls,
    load_items,
    make_scorer,
)
from tiergate.evaluation.offline.calls import ResultsFileError
from tiergate.evaluation.offline.stats import mean_interval, percentile
from tiergate.evaluation.offline.summary import summarise
from tiergate.intervals import bootstrap_mean, wilson


def test_wilson_matches_the_textbook_values() -> None:
    low, high = wilson(81, 263) or (0, 0)  # Wilson (1927) / Newcombe (1998): 0.2553-0.3662
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # None or all of n: exactly 0 or 1 (the formula alone misses by a rounding error at n=3).
    assert wilson(0, 3) == (0.0, pytest.approx(0.5615, abs=1e-4))
    assert wilson(3, 3) == (pytest.approx(0.4385, abs=1e-4), 1.0)
    # Ties as half a win: 5 wins and 2 ties of 10 is the share 0.6.
    assert wilson(6.0, 10) == wilson(5 + 2 / 2, 10) == wilson(6, 10)
    assert wilson(0, 0) is None


def test_intervals_pick_wilson_for_binary_and_bootstrap_for_graded() -> None:
    assert mean_interval([1.0, 0.0, 1.0, 1.0])[2] == "wilson"
    mean, (low, high), name = mean_interval([0.2, 0.9, 0.5, 0.7] * 25)
    assert name == "bootstrap" and low < mean < high and high - low < 0.15
    assert bootstrap_mean([0.3] * 5) == (0.3, 0.3)
    assert bootstrap_mean([0.0, 1.0] * 50) == bootstrap_mean([0.0, 1.0] * 50)  # seeded


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    ("name", "options", "answer", "reference", "score"),
    [
        ("exact", {}, "  Paris ", "paris", 1.0),
        ("exact", {}, "Paris, France", "paris", 0.0),
        ("contains", {}, "It is PARIS.", "paris", 1.0),
        ("regex", {}, "code C12", r"C\d+", 1.0),
        ("regex", {"pattern": r"^\d+$"}, "12", None, 1.0),
        ("json-field", {"field": "label"}, '```json\n{"label": "Bug"}\n```', "bug", 1.0),
        ("json-field", {"field": "a.0"}, 'sure: {"a": [3, 4]}', 3, 1.0),
        ("json-field", {"field": "label"}, "not json", "bug", 0.0),
        ("json-schema", {"schema": {"type": "object", "required": ["x"]}}, '{"x": 1}', None, 1.0),
        ("json-schema", {}, '{"y": 1}', {"type": "object", "required": ["x"]}, 0.0),
    ],
)
def test_scorers(
    name: str, options: dict[str, Any], answer: str, reference: Any, score: float
) -> None:
    assert make_scorer(name, **options)(answer, reference) == score


def test_scorer_options_are_checked_up_front() -> None:
    with pytest.raises(ValueError, match="--field"):
        make_scorer("json-field")
    with pytest.raises(Exception, match="is not valid"):
        make_scorer("json-schema", schema={"type": "nonsense"})
    with pytest.raises(ValueError, match="unknown scorer"):
        make_scorer("bleu")


def test_evaluation_set_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    for text, message in (
        ('{"id": "a", "prompt": "x"}\n{"prompt": "y"}\n', 'line 2: needs an "id"'),
        ('{"id": "a", "prompt": "x", "messages": []}\n', "exactly one of"),
        ('{"id": "a", "messages": "hi"}\n', '"messages" must be a list'),
        ('{"id": "a", "prompt": "x", "label": "good"}\n', '"label" must be a number'),
        ("not json\n", "line 1: not JSON"),
        ("\n", "holds no items"),
    ):
        path.write_text(text)
        with pytest.raises(EvalDataError, match=message):
            load_items(path)
    path.write_text(
        '{"id": 7, "messages": [{"role": "system", "content": "be brief"}, '
        '{"role": "user", "content": "hi"}], "label": true, "kind": "easy"}\n'
    )
    (item,) = load_items(path)
    assert (item.id, item.prompt, item.label, item.extra) == ("7", "hi", 1.0, {"kind": "easy"})


class Scripted:
    """A caller that answers from a function of (model, last message) and counts calls."""

    def __init__(self, answer: Any, cost: str = "0.001") -> None:
        self.answer = answer
        self.cost = Decimal(cost)
        self.calls: list[tuple[str, str]] = []

    async def __call__(
        self, model: str, messages: list[dict[str, Any]], max_tokens: int | None
    ) -> Answer:
        text = messages[-1]["content"]
        self.calls.append((model, text))
        reply = self.answer(model, text)
        if isinstance(reply, Answer):
            return reply
        return Answer(reply, cost_usd=self.cost, latency_ms=10.0, answered_by=model)


def test_judge_reads_replies_leniently() -> None:
    replies = iter(
        [
            '{"score": 8, "reason": "ok"}',
            "Score: 3/10",
            "no idea",
            '```json\n{"winner": "B"}\n```',
            "winner = tie",
            "dunno",
        ]
    )
    judge = Judge(Scripted(lambda model, text: next(replies)), "j")

    async def go() -> list[Any]:
        grades = [(await judge.grade("q", "a")).score for _ in range(3)]
        prefs = [(await judge.compare("q", "x", "y")).preference for _ in range(3)]
        return grades + prefs

    assert asyncio.run(go()) == [0.8, 0.3, None, "second", "tie", None]


def test_distilled_judge_escalates_unsure_and_disagreeing_cases() -> None:
    def cheap_or_strong(model: str, text: str) -> str:
        if "<answer_a>" in text:  # cheap: always prefers what it reads first; strong: fair
            if model == "cheap":
                return '{"winner": "A"}'
            return '{"winner": "A"}' if "<answer_a>\ngood" in text else '{"winner": "B"}'
        if model == "cheap":
            return '{"score": 5}' if "maybe" in text else '{"score": 9}'
        return '{"score": 1}'

    caller = Scripted(cheap_or_strong)
    judge = DistilledJudge(Judge(caller, "cheap"), Judge(caller, "strong"), band=(0.3, 0.7))

    async def go() -> tuple[Any, ...]:
        sure = await judge.grade("k1", "q", "fine", label=1.0)
        unsure = await judge.grade("k2", "q", "maybe", label=0.0)
        preference = await judge.prefer("k3", "q", "good", "bad")
        return sure, unsure, preference

    assert asyncio.run(go()) == (0.9, 0.1, 1.0)
    stats = judge.stats
    assert stats.escalated == 2 and stats.verdicts == 3
    assert stats.calls == {"cheap": 4, "strong": 3}  # pairwise: both orders, per judge
    assert stats.escalated_pairs == [(0.5, 0.1)]  # the pairwise one had no cheap verdict
    assert stats.final_vs_label == [(0.9, 1.0), (0.1, 0.0)]


def test_results_file_resumes_without_paying_twice(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    header = {"run": "r", "data": "fp1", "models": ["m"], "scorer": "exact"}
    flaky = iter([Answer("", status=503), Answer("x", cost_usd=Decimal("0.5"))])
    upstream = Scripted(lambda model, text: next(flaky) if text == "flaky" else "ok")

    async def ask(calls: RecordedCalls, text: str) -> Answer:
        return await calls("m", [{"role": "user", "content": text}], None)

    first = RecordedCalls(path, header, upstream)
    assert asyncio.run(ask(first, "a")).text == "ok"
    assert asyncio.run(ask(first, "flaky")).status == 503  # transient: not kept
    first._write({"kind": "sent", "key": "lost-in-a-kill", "model": "m"})
    first.close()
    with path.open("ab") as handle:
        handle.write(b'{"kind": "answer", "key": "cut sh')  # a line a kill cut short
    second = RecordedCalls(path, header, upstream)
    assert second.resent == 1 and second.earlier == Decimal("0.001")
    assert asyncio.run(ask(second, "a")).text == "ok" and second.resumed == 1
    assert asyncio.run(ask(second, "flaky")).text == "x"
    second.close()
    assert [text for _, text in upstream.calls] == ["a", "flaky", "flaky"]
    assert RecordedCalls(path, header, upstream).spent == Decimal("0.501")
    with pytest.raises(ResultsFileError, match="another evaluation"):
        RecordedCalls(path, {**header, "data": "fp2"}, upstream)


def _items(tmp_path: Path, count: int) -> Any:
    path = tmp_path / "set.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "prompt": f"p{i}", "reference": "yes"}) + "\n"
            for i in range(count)
        )
    )
    return load_items(path)


def test_budget_stops_before_the_next_item_would_pass_it(tmp_path: Path) -> None:
    upstream = Scripted(lambda model, text: "yes", cost="0.01")
    calls = RecordedCalls(tmp_path / "r.jsonl", {"data": "x"}, upstream)
    run = EvalRun(
        _items(tmp_path, 50),
        ["a", "b"],
        calls,
        scorer=make_scorer("exact"),
        concurrency=4,
        budget_usd=Decimal("0.105"),
    )
    result = asyncio.run(run.run())
    assert result.stopped == "budget" and len(result.items) == 5  # 5 items x 2 calls x $0.01
    assert calls.spent == Decimal("0.10")


def test_recommendation_takes_the_cheapest_model_within_delta(tmp_path: Path) -> None:
    costs = {"cheap": "0.001", "dear": "0.01", "bad": "0.0001"}

    def answer(model: str, text: str) -> Answer:
        n = int(text[1:])
        right = {"cheap": n % 50 != 0, "dear": True, "bad": n % 2 == 0}[model]
        return Answer("yes" if right else "no", cost_usd=Decimal(costs[model]))

    calls = RecordedCalls(tmp_path / "r.jsonl", {"data": "x"}, Scripted(answer))
    models = ["dear", "cheap", "bad"]
    run = EvalRun(_items(tmp_path, 400), models, calls, scorer=make_scorer("exact"))
    summary = summarise(asyncio.run(run.run()), models, delta=0.05, scorer="exact", extra={})
    recommendation = summary["recommendation"]
    assert (recommendation["model"], recommendation["best"]) == ("cheap", "dear")
    assert [q["model"] for q in recommendation["qualifying"]] == ["dear", "cheap"]
    rows = {row["model"]: row for row in summary["models"]}
    assert rows["cheap"]["cost_per_1k_usd"] == pytest.approx(1.0)
    assert rows["bad"]["quality"] == 0.5
    strict = summarise(
        asyncio.run(
            EvalRun(_items(tmp_path, 400), models, calls, scorer=make_scorer("exact")).run()
        ),
        models,
        delta=0.0,
        scorer="exact",
        extra={},
    )
    assert strict["recommendation"]["model"] == "dear"
