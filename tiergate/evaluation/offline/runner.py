"""Drives an evaluation: every item to every model, its answers scored, a few items at once.

Items run ``concurrency`` at a time; each item's models are asked together. A stop (a signal,
or the budget) lets the items in flight finish and starts no more, so nothing paid for is
lost; the results file (``calls.RecordedCalls``) makes the next run continue from there.

The budget counts the whole evaluation, earlier runs of it included. Before an item starts,
the run checks that the money spent, plus the items in flight and this one at the mean cost
of an item so far, stays within it; until one item has finished, items run one at a time, so
the first estimate is not a guess.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations

from tiergate.evaluation.offline.calls import Answer, RecordedCalls
from tiergate.evaluation.offline.dataset import EvalItem
from tiergate.evaluation.offline.judge import DistilledJudge
from tiergate.evaluation.offline.scorers import Scorer

__all__ = ["EvalRun", "ItemScores", "RunResult"]


@dataclass
class ItemScores:
    item: EvalItem
    answers: dict[str, Answer]
    scores: dict[str, float] = field(default_factory=dict)  # per model, in [0, 1]
    # Pairwise judging: preference of the first model over the second (1, 0.5, 0).
    preferences: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass
class RunResult:
    items: list[ItemScores]
    total: int  # items in the set
    stopped: str | None  # None (ran to the end), "budget" or "signal"
    calls: RecordedCalls
    judge: DistilledJudge | None

    @property
    def complete(self) -> bool:
        return self.stopped is None and len(self.items) == self.total


Progress = Callable[[int, Decimal], None]


class EvalRun:
    def __init__(
        self,
        items: list[EvalItem],
        models: list[str],
        calls: RecordedCalls,
        *,
        scorer: Scorer | None = None,
        judge: DistilledJudge | None = None,
        pairwise: bool = False,
        concurrency: int = 4,
        budget_usd: Decimal | None = None,
        max_tokens: int | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        if (scorer is None) == (judge is None):
            raise ValueError("give either a scorer or a judge")
        if pairwise and (judge is None or len(models) < 2):
            raise ValueError("pairwise judging needs a judge and at least two models")
        self.items = items
        self.models = models
        self.calls = calls
        self.scorer = scorer
        self.judge = judge
        self.pairwise = pairwise
        self.concurrency = max(1, concurrency)
        self.budget = budget_usd
        self.max_tokens = max_tokens
        self.on_progress = on_progress
        self.stopped: str | None = None
        self._paid_items = 0  # items of this process that cost something
        self._paid_before = Decimal(0)  # what those items cost

    def stop(self, reason: str = "signal") -> None:
        """Start no more items; those in flight finish and are kept."""
        if self.stopped is None:
            self.stopped = reason

    def _affordable(self, in_flight: int) -> bool:
        if self.budget is None:
            return True
        spent = self.calls.spent
        if spent >= self.budget:
            return False
        mean = self._paid_before / self._paid_items if self._paid_items else Decimal(0)
        return spent + mean * (in_flight + 1) <= self.budget

    async def run(self) -> RunResult:
        done: dict[int, ItemScores] = {}
        running: set[asyncio.Task[None]] = set()

        async def one(index: int, item: EvalItem) -> None:
            before = self.calls.paid
            done[index] = await self._item(item)
            cost = self.calls.paid - before
            if cost > 0:
                self._paid_items += 1
                self._paid_before += cost
            if self.on_progress is not None:
                self.on_progress(len(done), self.calls.spent)

        for index, item in enumerate(self.items):
            while running and (
                len(running) >= self.concurrency
                or (self.budget is not None and not self._paid_items)
            ):
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()  # a bug in scoring is not a result: raise it
            if self.stopped is not None:
                break
            if not self._affordable(len(running)):
                self.stop("budget")
                break
            running.add(asyncio.ensure_future(one(index, item)))
        if running:
            finished, _ = await asyncio.wait(running)
            for task in finished:
                task.result()
        ordered = [done[i] for i in sorted(done)]
        return RunResult(ordered, len(self.items), self.stopped, self.calls, self.judge)

    async def _item(self, item: EvalItem) -> ItemScores:
        answers = await asyncio.gather(
            *(self.calls(model, item.messages, self.max_tokens) for model in self.models)
        )
        result = ItemScores(item, dict(zip(self.models, answers, strict=True)))
        if self.scorer is not None:
            scorer = self.scorer
            for model, answer in result.answers.items():
                result.scores[model] = scorer(answer.text, item.reference) if answer.ok else 0.0
            return result
        judge = self.judge
        assert judge is not None
        if self.pairwise:
            await self._compare(judge, result)
            return result
        for model, answer in result.answers.items():
            if not answer.ok:
                result.scores[model] = 0.0
                continue
            score = await judge.grade(
                f"{item.id}/{model}", item.prompt, answer.text, item.reference, item.label
            )
            if score is not None:
                result.scores[model] = score
        return result

    async def _compare(self, judge: DistilledJudge, result: ItemScores) -> None:
        item, answers = result.item, result.answers
        wins: dict[str, list[float]] = {model: [] for model in self.models}
        for a, b in combinations(self.models, 2):
            first, second = answers[a], answers[b]
            if first.ok and second.ok:
                preference = await judge.prefer(
                    f"{item.id}/{a}/{b}", item.prompt, first.text, second.text, item.reference
                )
            else:  # an answer that failed loses to one that came back
                preference = 0.5 if first.ok == second.ok else float(first.ok)
            result.preferences[(a, b)] = preference
            wins[a].append(preference)
            wins[b].append(1 - preference)
        for model, values in wins.items():
            result.scores[model] = sum(values) / len(values)
