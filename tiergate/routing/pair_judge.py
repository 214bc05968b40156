"""A model judging a candidate's answer against the served one: the verdict of one pair.

Used by judged shadow and by a rollout's guard (``gateway/judging.py`` calls it off the request
path). One function, ``judge_pair``, so another judge (a distilled or calibrated one) can take
its place without touching its callers. It calls models only through a ``JudgeClient`` (the
gateway's executor in production), the same protocol the judge validator uses.

``pairwise``: the judge sees both answers and names the better one, asked twice with the
answers swapped; a pair is a win or a loss for the candidate only when both orders agree, else
a tie, so a judge that prefers the first (or second) position adds ties, not a bias. That rule,
``agreed_preference``, is the offline evaluation's too (``evaluation/offline/judge.py``), whose
judge differs in all else: its prompt carries a rubric and a reference and asks for JSON, an
unreadable reply counts instead of failing, and a disagreement goes to a stronger judge.
``rubric``: each answer graded alone (PASS/FAIL), the verdict from the two grades.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

from tiergate.config.routes import PairJudgeSpec
from tiergate.routing.validators.judge import JudgeClient, graded, judge_call, passes
from tiergate.types import ChatRequest

Verdict = Literal["win", "tie", "loss"]  # for the candidate, against the served answer
Side = Literal["A", "B", "TIE"]  # the answer one judge reply prefers, as it was shown
_WORD = re.compile(r"[A-Za-z]+")


class JudgeReplyError(ValueError):
    """The judge's reply names no verdict the prompt asked for."""


@dataclass(frozen=True, slots=True)
class PairVerdict:
    verdict: Verdict
    served_pass: bool | None = None  # rubric only
    candidate_pass: bool | None = None  # rubric only
    orders_agree: bool | None = None  # pairwise only: both orders named the same answer


def pairwise_request(spec: PairJudgeSpec, question: str, first: str, second: str) -> ChatRequest:
    """What the judge is sent to compare two answers (public so tests and docs can show it)."""
    body = (
        f"<question>\n{question}\n</question>\n\n"
        f"<answer_a>\n{first}\n</answer_a>\n\n<answer_b>\n{second}\n</answer_b>"
    )
    return judge_call(spec.model, spec.instructions, spec.max_tokens, body)


def rubric_request(spec: PairJudgeSpec, question: str, answer: str) -> ChatRequest:
    """What the judge is sent to grade one answer (the judge validator's framing)."""
    return judge_call(spec.model, spec.instructions, spec.max_tokens, graded(question, answer))


def agreed_preference(x_first: Side, x_second: Side) -> float | None:
    """Two replies, one per order, as one preference for answer x (shown as A in the first
    order, as B in the second): 1 x is better, 0 the other is, 0.5 a tie; None when the orders
    disagree, since a judge that flips with the order prefers a position, not an answer."""
    as_x = {"A": 1.0, "B": 0.0, "TIE": 0.5}[x_first]
    swapped = {"A": 0.0, "B": 1.0, "TIE": 0.5}[x_second]
    return as_x if as_x == swapped else None


def _choice(reply: str) -> Side:
    match = _WORD.search(reply)
    word = match.group(0).upper() if match else ""
    if word in ("A", "B", "TIE"):
        return word  # type: ignore[return-value]
    raise JudgeReplyError(f"judge replied {reply.strip()[:40]!r}, not A, B or TIE")


async def judge_pair(
    client: JudgeClient, spec: PairJudgeSpec, question: str, served: str, candidate: str
) -> PairVerdict:
    """The candidate's verdict against the served answer to ``question`` (two judge calls,
    made together). Raises what the client raises, or ``JudgeReplyError``."""
    if spec.mode == "rubric":
        served_reply, candidate_reply = await asyncio.gather(
            client.complete(rubric_request(spec, question, served)),
            client.complete(rubric_request(spec, question, candidate)),
        )
        served_pass = passes(served_reply.text(), spec.pass_if)
        candidate_pass = passes(candidate_reply.text(), spec.pass_if)
        verdict: Verdict = (
            "tie" if served_pass == candidate_pass else "win" if candidate_pass else "loss"
        )
        return PairVerdict(verdict, served_pass=served_pass, candidate_pass=candidate_pass)
    served_first, candidate_first = await asyncio.gather(
        client.complete(pairwise_request(spec, question, served, candidate)),
        client.complete(pairwise_request(spec, question, candidate, served)),
    )
    served_preference = agreed_preference(
        _choice(served_first.text()), _choice(candidate_first.text())
    )
    verdict = "loss" if served_preference == 1.0 else "win" if served_preference == 0.0 else "tie"
    return PairVerdict(verdict, orders_agree=served_preference is not None)
