"""A model as grader: a score against a rubric, or a preference between two answers.

``Judge`` is one grading model behind a ``Caller`` (``calls.py``), so anything that can call a
model can grade with it: the offline evaluation here, a shadow grader on live pairs later.
A pairwise comparison is asked in both orders (A first, then B first), which cancels a judge's
preference for whichever answer it reads first: a judge that flips its answer with the order
has no real preference, and the pair counts as a tie unless a stronger judge decides. The rule
is the live pair judge's (``routing/pair_judge.py: agreed_preference``); the judges are not one
because all around it differs: here a rubric and a reference in the prompt, a JSON reply read
leniently, an unreadable reply counted rather than raised, the orders asked one after the
other through a ``Caller`` that returns each call's cost, and a disagreement escalated.

``DistilledJudge`` asks a cheap judge first and a strong one only when the cheap one is unsure:
a score inside the ``band``, a reply it could not parse, or two orders that disagree. An
``audit`` share of the confident verdicts (chosen by hash of the item, so a resumed run audits
the same ones) is graded by both, which measures how often the cheap judge alone would be
right; ``JudgeStats`` keeps the cost and the agreement figures.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from tiergate.evaluation.offline.calls import Answer, Caller
from tiergate.evaluation.offline.scorers import parse_json_answer
from tiergate.routing.pair_judge import Side, agreed_preference

__all__ = ["DEFAULT_RUBRIC", "DistilledJudge", "Judge", "JudgeStats", "Preference"]

Preference = Literal["first", "second", "tie"]

DEFAULT_RUBRIC = (
    "Score 10 when the answer is correct and complete (matching the reference, if one is "
    "given), 0 when it is wrong or does not answer; use the scale between for partial answers."
)
_SYSTEM = "You are a strict, impartial grader. Reply with one JSON object and nothing else."
_SCORE = re.compile(r'"?score"?\s*[:=]\s*(-?\d+(?:\.\d+)?)', re.I)
_WINNER = re.compile(r'"?winner"?\s*[:=]\s*"?(A|B|tie)\b', re.I)


def _block(name: str, text: Any) -> str:
    return f"<{name}>\n{text}\n</{name}>\n"


@dataclass(frozen=True, slots=True)
class Grade:
    score: float | None  # in [0, 1]; None when the reply could not be read
    answer: Answer


@dataclass(frozen=True, slots=True)
class Comparison:
    preference: Preference | None  # None when the reply could not be read
    answer: Answer


class Judge:
    """One grading model. ``scale`` is the top of the rubric's scale (scores are divided by
    it); replies are asked for as JSON and read leniently."""

    def __init__(
        self,
        call: Caller,
        model: str,
        rubric: str = DEFAULT_RUBRIC,
        *,
        scale: float = 10.0,
        max_tokens: int | None = 300,
    ) -> None:
        self.call = call
        self.model = model
        self.rubric = rubric
        self.scale = scale
        self.max_tokens = max_tokens

    def grade_messages(self, question: str, answer: str, reference: Any) -> list[dict[str, Any]]:
        body = _block("rubric", self.rubric) + _block("question", question)
        if reference is not None:
            body += _block("reference", reference)
        body += _block("answer", answer)
        body += (
            f'Grade the answer against the rubric. Reply {{"score": <0 to {self.scale:g}>, '
            '"reason": "<one sentence>"}.'
        )
        return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": body}]

    def compare_messages(
        self, question: str, first: str, second: str, reference: Any
    ) -> list[dict[str, Any]]:
        body = _block("rubric", self.rubric) + _block("question", question)
        if reference is not None:
            body += _block("reference", reference)
        body += _block("answer_a", first) + _block("answer_b", second)
        body += (
            'Which answer is better by the rubric? Reply {"winner": "A" | "B" | "tie", '
            '"reason": "<one sentence>"}.'
        )
        return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": body}]

    async def grade(self, question: str, answer: str, reference: Any = None) -> Grade:
        reply = await self.call(
            self.model, self.grade_messages(question, answer, reference), self.max_tokens
        )
        return Grade(self._score(reply.text) if reply.ok else None, reply)

    async def compare(
        self, question: str, first: str, second: str, reference: Any = None
    ) -> Comparison:
        """Which of two answers is better, as shown (``first`` is shown as A)."""
        reply = await self.call(
            self.model, self.compare_messages(question, first, second, reference), self.max_tokens
        )
        return Comparison(_preference(reply.text) if reply.ok else None, reply)

    def _score(self, text: str) -> float | None:
        parsed = parse_json_answer(text)
        value: Any = parsed.get("score") if isinstance(parsed, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            match = _SCORE.search(text)
            value = float(match.group(1)) if match else None
        if value is None:
            return None
        return min(1.0, max(0.0, float(value) / self.scale))


def _preference(text: str) -> Preference | None:
    parsed = parse_json_answer(text)
    value = parsed.get("winner") if isinstance(parsed, dict) else None
    if not isinstance(value, str):
        match = _WINNER.search(text)
        value = match.group(1) if match else None
    if value is None:
        return None
    return {"a": "first", "b": "second", "tie": "tie"}.get(value.strip().lower())  # type: ignore[return-value]


@dataclass
class JudgeStats:
    """What judging cost and how far the judges agreed."""

    calls: dict[str, int] = field(default_factory=dict)
    cost_usd: dict[str, Decimal] = field(default_factory=dict)
    unreadable: int = 0
    verdicts: int = 0
    escalated: int = 0
    audited: int = 0
    # (cheap verdict, strong verdict) where both judged: escalated and audited cases apart
    # (the audit measures the cheap judge where it was sure; escalated, it hedged).
    escalated_pairs: list[tuple[float, float]] = field(default_factory=list)
    audit_pairs: list[tuple[float, float]] = field(default_factory=list)
    # (verdict, human label) where the data has labels: the final verdict, and the cheap one.
    final_vs_label: list[tuple[float, float]] = field(default_factory=list)
    cheap_vs_label: list[tuple[float, float]] = field(default_factory=list)

    def count(self, model: str, answer: Answer) -> None:
        self.calls[model] = self.calls.get(model, 0) + 1
        self.cost_usd[model] = self.cost_usd.get(model, Decimal(0)) + (answer.cost_usd or 0)


def _hash_unit(*parts: str) -> float:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16) / float(16**12)


def _orient(first_order: Preference | None, second_order: Preference | None) -> float | None:
    """Both orders' verdicts as one preference for the answer called x (shown first in the
    first order, second in the other): 1 x wins, 0 y wins, 0.5 tie; None when they disagree
    or one is unreadable."""
    if first_order is None or second_order is None:
        return None
    return agreed_preference(_SIDE[first_order], _SIDE[second_order])


_SIDE: dict[Preference, Side] = {"first": "A", "second": "B", "tie": "TIE"}


class DistilledJudge:
    """A cheap judge, and a strong one for the cases the cheap one is unsure about.

    With no strong judge it is a plain judge (an unsure pairwise verdict is a tie; an
    unreadable score is no score)."""

    def __init__(
        self,
        cheap: Judge,
        strong: Judge | None = None,
        *,
        band: tuple[float, float] = (0.3, 0.7),
        audit: float = 0.0,
    ) -> None:
        self.cheap = cheap
        self.strong = strong
        self.band = band
        self.audit = audit if strong is not None else 0.0
        self.stats = JudgeStats()

    def _audited(self, key: str) -> bool:
        return self.audit > 0 and _hash_unit("audit", key) < self.audit

    async def grade(
        self,
        key: str,
        question: str,
        answer: str,
        reference: Any = None,
        label: float | None = None,
    ) -> float | None:
        """The score in [0, 1] of ``answer``; ``key`` names the case (item and model)."""
        stats = self.stats
        first = await self.cheap.grade(question, answer, reference)
        stats.count(self.cheap.model, first.answer)
        stats.verdicts += 1
        score = first.score
        unsure = score is None or self.band[0] <= score <= self.band[1]
        if score is None:
            stats.unreadable += 1
        audited = not unsure and self._audited(key)
        if self.strong is not None and (unsure or audited):
            second = await self.strong.grade(question, answer, reference)
            stats.count(self.strong.model, second.answer)
            if second.score is not None:
                if score is not None:
                    pairs = stats.escalated_pairs if unsure else stats.audit_pairs
                    pairs.append((score, second.score))
                score = second.score
            if unsure:
                stats.escalated += 1
            else:
                stats.audited += 1
        if label is not None:
            if score is not None:
                stats.final_vs_label.append((score, label))
            if first.score is not None:
                stats.cheap_vs_label.append((first.score, label))
        return score

    async def prefer(self, key: str, question: str, x: str, y: str, reference: Any = None) -> float:
        """Preference for answer ``x`` over ``y``: 1, 0.5 (tie) or 0, from both orders."""
        stats = self.stats
        verdict = await self._both_orders(self.cheap, question, x, y, reference)
        stats.verdicts += 1
        unsure = verdict is None
        audited = not unsure and self._audited(key)
        if self.strong is not None and (unsure or audited):
            strong = await self._both_orders(self.strong, question, x, y, reference)
            if strong is not None:
                if verdict is not None:
                    pairs = stats.escalated_pairs if unsure else stats.audit_pairs
                    pairs.append((verdict, strong))
                verdict = strong
            if unsure:
                stats.escalated += 1
            else:
                stats.audited += 1
        return 0.5 if verdict is None else verdict

    async def _both_orders(
        self, judge: Judge, question: str, x: str, y: str, reference: Any
    ) -> float | None:
        one = await judge.compare(question, x, y, reference)
        two = await judge.compare(question, y, x, reference)
        for comparison in (one, two):
            self.stats.count(judge.model, comparison.answer)
            if comparison.preference is None:
                self.stats.unreadable += 1
        return _orient(one.preference, two.preference)
