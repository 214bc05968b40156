"""A validator that asks a model to grade the answer.

Routing sits below the executor, so it cannot call models itself: the gateway hands it a
``JudgeClient`` at start-up (the executor-backed one in production, a small fake in tests).
The judge sees the route's prompt as its system prompt and the question and answer in one
user message; the answer passes when the judge's reply starts with ``pass_if``
(case-insensitive), so the prompt should ask for a verdict word first. A judge that errors
counts as a failing check: the ladder escalates rather than returning an ungraded answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tiergate.catalog import ModelInfo
from tiergate.errors import GatewayError
from tiergate.routing.plan import ValidatorCall, Verdict
from tiergate.tokens import tokens_for_chars
from tiergate.types import ChatRequest, ChatResponse, Message, TextBlock, Usage

# What the judge request adds around the question and answer (tags, message framing).
_FRAMING_TOKENS = 32


class JudgeClient(Protocol):
    """Calls a model by its catalog id (``request.model``) and returns the whole answer."""

    async def complete(
        self, request: ChatRequest, calls: list[ValidatorCall] | None = None
    ) -> ChatResponse:
        """``calls``, when given, receives every upstream call made, also when this raises:
        a judge that failed in the end may still have made billable calls."""
        ...


def judge_call(model_id: str, instructions: str, max_tokens: int, body: str) -> ChatRequest:
    """A request to a judge model: its instructions as the system prompt, what it judges as
    the one user message, deterministic, tagged ``task: judge``. Shared with the pair judge
    (``routing/pair_judge.py``), so both judges frame their calls alike."""
    return ChatRequest(
        model=model_id,
        messages=[Message("user", [TextBlock(body)])],
        system=[TextBlock(instructions)],
        max_tokens=max_tokens,
        temperature=0.0,
        metadata={"task": "judge"},
    )


def graded(question: str, answer: str) -> str:
    """One answer to grade, with its question, as the judge reads it."""
    return f"<question>\n{question}\n</question>\n\n<answer>\n{answer}\n</answer>"


def passes(reply: str, pass_if: str) -> bool:
    """Whether the judge's reply starts with the pass word (case and surrounding space
    ignored)."""
    return reply.strip().lower().startswith(pass_if.strip().lower())


class JudgeValidator:
    name = "judge"

    def __init__(
        self,
        client: JudgeClient,
        model: ModelInfo,
        prompt: str,
        *,
        pass_if: str = "PASS",
        max_tokens: int = 16,
    ) -> None:
        self._client = client
        self.model = model
        self._prompt = prompt
        self._prompt_tokens = tokens_for_chars(len(prompt))
        self._pass_if = pass_if.strip().lower()
        self._max_tokens = max_tokens

    def max_usage(
        self, question_tokens: int, answer_tokens: int
    ) -> Sequence[tuple[ModelInfo, Usage]]:
        """The judge reads its prompt, the question (at most the whole request) and the
        answer, and writes at most ``max_tokens``."""
        read = self._prompt_tokens + _FRAMING_TOKENS + question_tokens + answer_tokens
        return ((self.model, Usage(input_tokens=read, output_tokens=self._max_tokens)),)

    def judge_request(self, request: ChatRequest, response: ChatResponse) -> ChatRequest:
        """What the judge is sent (public so tests and docs can show it)."""
        body = graded(request.last_user_text(), response.text())
        return judge_call(self.model.id, self._prompt, self._max_tokens, body)

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        calls: list[ValidatorCall] = []
        try:
            answer = await self._client.complete(self.judge_request(request, response), calls)
        except GatewayError as exc:
            failed = f"judge {self.model.id} failed: {exc.message[:80]}"
            return Verdict(False, failed, tuple(calls))
        reply = answer.text().strip()
        if passes(reply, self._pass_if):
            return Verdict(True, calls=tuple(calls))
        first = reply.split("\n", 1)[0][:60]
        return Verdict(False, f"judge {self.model.id} said {first!r}", tuple(calls))
