"""Validators that read a worked answer: final answer stated, arithmetic re-computed, and a
learned answer model (``tiergate router validator train``) scoring (prompt, answer).

The first two are pure text checks (``tiergate.routing.answer_checks``); the learned one loads
its file at start-up (scikit-learn imported only then) and costs about a millisecond a check.
A check's reason names what failed, because it lands in the attempt record.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import ConfigError, Loc
from tiergate.routing.answer_checks import check_arithmetic, final_answer, number
from tiergate.routing.plan import LocalCheck, Verdict
from tiergate.types import ChatRequest, ChatResponse

_OK = Verdict(True)


class FinalAnswerValidator(LocalCheck):
    """The answer states a final answer; with ``numeric``, that answer is one number."""

    name = "final_answer"

    def __init__(self, *, numeric: bool = False) -> None:
        self._numeric = numeric

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        stated = final_answer(response.text())
        if stated is None:
            return Verdict(False, "no final answer stated")
        if self._numeric and number(stated) is None:
            return Verdict(False, f"final answer {stated[:30]!r} is not a number")
        return _OK


class ArithmeticValidator(LocalCheck):
    """Every equation the answer states (``<<a*b=c>>``, ``a x b = c``) re-computes right."""

    name = "arithmetic"

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        result = check_arithmetic(response.text())
        if result.ok:
            return _OK
        shown = "; ".join(w[:40] for w in result.wrong[:2])
        return Verdict(False, f"{len(result.wrong)} equation(s) do not check out: {shown}")


class AnswerModelValidator(LocalCheck):
    """A learned answer validator: fails (escalates) when its score reaches the threshold."""

    name = "answer_model"

    def __init__(self, model: Any, threshold: float) -> None:
        self._model = model
        self.threshold = threshold

    @classmethod
    def from_file(cls, path: str, threshold: float | None, where: Loc) -> AnswerModelValidator:
        from tiergate.routing.learned import AnswerValidator

        try:
            model = AnswerValidator.load(path)
        except Exception as exc:  # unreadable, corrupt or foreign file: a start-up error
            raise ConfigError(f"cannot load answer validator {path!r}: {exc}", where) from None
        return cls(model, model.threshold if threshold is None else threshold)

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        score = float(self._model.score(request.last_user_text(), response.text()))
        if score < self.threshold:
            return _OK
        return Verdict(False, f"answer model score {score:.3f} >= {self.threshold:.3f}")
