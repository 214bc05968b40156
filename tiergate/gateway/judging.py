"""Judging answer pairs off the request path: the calls, their price, and the stored verdict.

Judged shadow (``gateway/shadow_calls.py``) and a guarded rollout's sample
(``gateway/rollout_control.py``) both end here with two answers to one request: the served
model's and the candidate's. The verdict comes from ``routing.pair_judge.judge_pair`` (one
function, so a different judge can take its place); the judge's calls run through this
gateway's executor on the judge model's own deployments, are priced like any call and are
logged with the verdict in ``judgments`` (kind ``shadow`` or ``rollout``), never in the served
traffic's rows. Who pays: the operator, as for shadow calls; the caller's key is not charged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.config.routes import PairJudgeSpec
from tiergate.errors import GatewayError
from tiergate.executor import Attempt, Executor, validator_calls
from tiergate.gateway.log_rows import total_usage
from tiergate.gateway.request_id import new_request_id
from tiergate.providers.base import OWN_CALL
from tiergate.routing.pair_judge import JudgeReplyError, judge_pair
from tiergate.routing.plan import Plan, ValidatorCall
from tiergate.store.judgments import JudgmentRecord, save_judgment
from tiergate.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from tiergate.cost.billing import Accountant
    from tiergate.store.backend import Store

logger = logging.getLogger("tiergate")


def answer_text(text: str, tool_calls: Sequence[tuple[str, Any]] = ()) -> str:
    """An answer as the judge reads it: its text, then its tool calls as JSON lines."""
    calls = [
        f"[tool call] {name} {orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS).decode()}"
        for name, arguments in tool_calls
    ]
    return "\n".join([text, *calls]) if calls else text


def response_text(response: ChatResponse) -> str:
    return answer_text(response.text(), [(b.name, b.input) for b in response.tool_uses()])


class _MeteredClient:
    """A ``JudgeClient`` over the executor that keeps every attempt, to price them."""

    def __init__(self, executor: Executor, plan_for: Callable[[ChatRequest], Plan]) -> None:
        self._executor = executor
        self._plan_for = plan_for
        self.attempts: list[Attempt] = []

    async def complete(
        self, request: ChatRequest, calls: list[ValidatorCall] | None = None
    ) -> ChatResponse:
        start = len(self.attempts)
        try:
            outcome = await self._executor.run(
                request, self._plan_for(request), OWN_CALL, self.attempts
            )
        finally:
            if calls is not None:
                calls += validator_calls(self.attempts[start:])
        return outcome.response


class Judging:
    def __init__(
        self,
        executor: Executor,
        accountant: Accountant,
        store: Store,
        plan_for: Callable[[ChatRequest], Plan],
    ) -> None:
        """``plan_for``: the plan that calls a model named directly (the judge's)."""
        self._executor = executor
        self._accountant = accountant
        self._store = store
        self._plan_for = plan_for
        self.judged = 0  # pairs with a verdict
        self.failed = 0  # pairs the judge could not grade (an error, an unreadable reply)

    async def grade(
        self,
        *,
        kind: str,
        spec: PairJudgeSpec,
        request: ChatRequest,
        request_id: str,
        tenant: str,
        route: str | None,
        served_model: str,
        candidate_model: str,
        served: str,
        candidate: str,
        shadow_id: str | None = None,
        extra_attempts: Sequence[Attempt] = (),
    ) -> JudgmentRecord:
        """Judge one pair and store the verdict with what it cost (``extra_attempts``: other
        calls made only to get this pair, priced into the row). Never raises for a judge that
        fails: the row records the error instead."""
        client = _MeteredClient(self._executor, self._plan_for)
        record = JudgmentRecord(
            id="jdg" + new_request_id()[3:],
            kind=kind,
            ts_ms=int(time.time() * 1000),
            tenant=tenant,
            route=route,
            request_id=request_id,
            shadow_id=shadow_id,
            served_model=served_model,
            candidate_model=candidate_model,
            judge_model=spec.model,
            mode=spec.mode,
        )
        try:
            verdict = await judge_pair(client, spec, request.last_user_text(), served, candidate)
        except (GatewayError, JudgeReplyError) as exc:
            record.error = (exc.message if isinstance(exc, GatewayError) else str(exc))[:200]
            self.failed += 1
        else:
            record.verdict = verdict.verdict
            record.served_pass = verdict.served_pass
            record.candidate_pass = verdict.candidate_pass
            record.orders_agree = verdict.orders_agree
            self.judged += 1
        attempts = [*extra_attempts, *client.attempts]
        usage = total_usage(attempts) if attempts else None
        record.calls = len(attempts)
        if usage is not None:
            record.input_tokens, record.output_tokens = usage.input_tokens, usage.output_tokens
        record.cost_usd = self._accountant.bill(attempts).usd if attempts else None
        try:
            await save_judgment(self._store, record)
        except Exception:  # a background task: nobody would see its exception otherwise
            logger.exception("judgment of request %s could not be stored", request_id)
        return record
