"""The pair judge: pairwise in both orders (a position-biased judge adds ties, not a bias),
or a rubric grading each answer alone; and the intervals reports put on its verdicts."""

from __future__ import annotations

import pytest

from tests.routing.test_validators import FakeJudge
from tiergate.config.routes import PairJudgeSpec
from tiergate.intervals import bootstrap, wilson
from tiergate.routing.pair_judge import JudgeReplyError, agreed_preference, judge_pair
from tiergate.store.judgments import summarise

PAIRWISE = PairJudgeSpec(model="claude-haiku-4-5")
RUBRIC = PairJudgeSpec(model="claude-haiku-4-5", mode="rubric")


@pytest.mark.parametrize(
    ("served_first", "candidate_first", "verdict", "agree"),
    [
        ("B", "A", "win", True),  # both orders prefer the candidate
        ("A", "B", "loss", True),  # both prefer the served answer
        ("TIE", "tie.", "tie", True),
        ("A", "A", "tie", False),  # always the first position: a tie, not a loss
        ("**B** is better", "B", "tie", False),
    ],
)
async def test_pairwise_needs_both_orders_to_agree(
    served_first: str, candidate_first: str, verdict: str, agree: bool
) -> None:
    judge = FakeJudge(served_first, candidate_first)
    result = await judge_pair(judge, PAIRWISE, "2+2?", "4", "four")
    assert (result.verdict, result.orders_agree) == (verdict, agree)
    one, two = (r.messages[0].content[0].text for r in judge.asked)  # type: ignore[union-attr]
    assert "<answer_a>\n4\n</answer_a>" in one and "<answer_b>\nfour\n</answer_b>" in one
    assert "<answer_a>\nfour\n</answer_a>" in two and "<answer_b>\n4\n</answer_b>" in two
    assert all(r.temperature == 0 and r.model == "claude-haiku-4-5" for r in judge.asked)


def test_the_two_orders_rule_shared_with_the_offline_judge() -> None:
    """Answer x is A in the first order and B in the second: only agreement is a preference."""
    assert [agreed_preference("A", "B"), agreed_preference("B", "A")] == [1.0, 0.0]
    assert agreed_preference("TIE", "TIE") == 0.5
    assert agreed_preference("A", "A") is None and agreed_preference("TIE", "B") is None


async def test_a_reply_naming_no_answer_is_an_error() -> None:
    with pytest.raises(JudgeReplyError, match="not A, B or TIE"):
        await judge_pair(FakeJudge("Maybe", "A"), PAIRWISE, "q", "x", "y")


@pytest.mark.parametrize(
    ("served", "candidate", "verdict"),
    [
        ("PASS", "PASS", "tie"),
        ("PASS", "FAIL", "loss"),
        ("FAIL", "pass: ok", "win"),
        ("FAIL", "FAIL", "tie"),
    ],
)
async def test_rubric_grades_each_answer_alone(served: str, candidate: str, verdict: str) -> None:
    judge = FakeJudge(served, candidate)
    result = await judge_pair(judge, RUBRIC, "2+2?", "4", "five")
    assert result.verdict == verdict
    assert (result.served_pass, result.candidate_pass) == (
        served.lower().startswith("pass"),
        candidate.lower().startswith("pass"),
    )
    texts = [r.messages[0].content[0].text for r in judge.asked]  # type: ignore[union-attr]
    assert texts == [
        "<question>\n2+2?\n</question>\n\n<answer>\n4\n</answer>",
        "<question>\n2+2?\n</question>\n\n<answer>\nfive\n</answer>",
    ]


def test_wilson_intervals_match_the_textbook() -> None:
    low, high = wilson(7, 10) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)
    assert wilson(0, 20) == (0.0, pytest.approx(0.1611, abs=1e-4))
    assert wilson(0, 0) is None


def test_bootstrap_intervals_are_fixed_and_cover_the_estimate() -> None:
    counts = (60, 10, 2, 28)  # both pass, served only, candidate only, neither
    ratio = bootstrap(counts, lambda b, s, c, _n: (b + c) / (b + s))
    assert ratio == bootstrap(counts, lambda b, s, c, _n: (b + c) / (b + s))
    assert ratio is not None and ratio[0] < 62 / 70 < ratio[1] and ratio[1] - ratio[0] < 0.2


def test_a_summary_row_gives_rates_quality_and_intervals() -> None:
    # 100 pairwise verdicts: 10 wins, 60 ties, 30 losses; judge cost 2 pico-units a pair.
    counts = [100, 0, 10, 60, 30, 0, 0, 0, 0, 40, 100, 200, 200]
    row = summarise({"mode": "pairwise"}, counts)
    assert (row["win_rate"], row["tie_rate"], row["loss_rate"]) == (0.1, 0.6, 0.3)
    assert row["quality"] == pytest.approx(0.4) and row["not_worse_rate"] == pytest.approx(0.7)
    low, high = row["quality_ci"]
    assert low < 0.4 < high and high - low < 0.2
    assert row["orders_agree_rate"] == 0.4 and row["judge_calls"] == 200
    rubric = summarise({"mode": "rubric"}, [50, 0, 2, 40, 8, 40, 8, 2, 0, 0, 0, 100, None])
    assert rubric["served_pass_rate"] == 0.96 and rubric["candidate_pass_rate"] == 0.84
    assert rubric["quality_ratio"] == pytest.approx(0.84 / 0.96)
    assert rubric["judge_cost_usd"] is None


def test_the_rubric_judge_frames_its_call_as_the_judge_validator_does() -> None:
    from tiergate.catalog import load_catalog
    from tiergate.routing.pair_judge import rubric_request
    from tiergate.routing.validators import JudgeValidator
    from tiergate.types import ChatRequest, ChatResponse, Message, TextBlock

    model = load_catalog().resolve(RUBRIC.model)
    validator = JudgeValidator(
        FakeJudge(), model, RUBRIC.instructions, max_tokens=RUBRIC.max_tokens
    )
    question = ChatRequest(model="m", messages=[Message("user", [TextBlock("2+2?")])])
    answer = ChatResponse(id="r", model="m", content=[TextBlock("4")], stop_reason="end_turn")
    assert rubric_request(RUBRIC, "2+2?", "4") == validator.judge_request(question, answer)
