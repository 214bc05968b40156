"""A budget reserves a judge's calls: the worst case of a judged ladder includes one check of
every answer but the last, priced at the judge model's rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.routing.builders import CATALOG, ask, policies
from tests.routing.test_validators import FakeJudge
from tiergate.routing.plan import Plan
from tiergate.tenancy.guard import worst_case_usd
from tiergate.tokens import tokens_for_chars

PROMPT = "Answer PASS or FAIL."


def plan_for(validators: list[dict[str, Any]], ladder: list[str]) -> Plan:
    table, state = policies(
        {"lad": {"ladder": ladder, "validators": validators}}, judge=FakeJudge()
    )
    return table["lad"](ask(model="lad", max_tokens=100), CATALOG, state)


def test_a_judged_ladder_reserves_one_check_per_graded_answer() -> None:
    judge = {"type": "judge", "model": "claude-sonnet-4-6", "prompt": PROMPT, "max_tokens": 8}
    ladder = ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]
    judged, plain = plan_for([judge], ladder), plan_for([], ladder)
    tokens = 40
    without = worst_case_usd(ask(model="lad", max_tokens=100), plain, tokens)
    with_judge = worst_case_usd(ask(model="lad", max_tokens=100), judged, tokens)
    assert without is not None and with_judge is not None
    # Two graded answers (Haiku's, Sonnet's): each check reads the prompt, framing, the
    # question and a 100-token answer, and writes 8 tokens, on Sonnet.
    read = tokens_for_chars(len(PROMPT)) + 32 + tokens + 100
    assert with_judge - without == 2 * Decimal(read * 3 + 8 * 15) / 1_000_000  # $3 / $15


def test_checks_that_call_no_model_reserve_nothing() -> None:
    ladder = ["claude-haiku-4-5", "claude-sonnet-4-6"]
    text_only = plan_for([{"type": "json"}, {"type": "max_length", "chars": 10}], ladder)
    plain = plan_for([], ladder)
    request = ask(model="lad", max_tokens=100)
    assert worst_case_usd(request, text_only, 40) == worst_case_usd(request, plain, 40)


@pytest.mark.parametrize("ladder", [["claude-haiku-4-5"], ["claude-sonnet-4-6"]])
def test_a_one_rung_ladder_is_never_graded(ladder: list[str]) -> None:
    judge = {"type": "judge", "model": "claude-sonnet-4-6", "prompt": PROMPT}
    request = ask(model="lad", max_tokens=100)
    assert worst_case_usd(request, plan_for([judge], ladder), 40) == worst_case_usd(
        request, plan_for([], ladder), 40
    )
