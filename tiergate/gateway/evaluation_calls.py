"""Evaluation calls through the gateway's own pipeline, in process.

An evaluation's call is a non-streamed chat request, run exactly as a batch item is
(``gateway/batch_items.py``): decoded from the OpenAI format, admitted (the route or model, the
caller's model allowance), routed, carried out by the executor (retries, fail-over,
escalation), priced, and written to the request log. Its row is tagged as evaluation traffic:
``batch_id`` is ``eval_<run id>``, so reports keep it out of latency figures (as batch work)
and can tell it apart (``requests.batch_id LIKE 'eval_%'``), and it never triggers a shadow.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from tiergate.config import Settings
from tiergate.errors import GatewayError, InternalError
from tiergate.evaluation.offline.calls import Answer
from tiergate.gateway.auth import Principal
from tiergate.gateway.factory import build_gateway, prepare
from tiergate.gateway.gateway import Gateway
from tiergate.gateway.pipeline import admit, complete, decode, finish
from tiergate.gateway.request_id import new_request_id
from tiergate.gateway.trace import RequestTrace
from tiergate.providers.base import CallOptions
from tiergate.wire.openai import FORMAT as OPENAI

__all__ = ["EVAL_PREFIX", "GatewayCaller"]

logger = logging.getLogger("tiergate")

EVAL_PREFIX = "eval_"  # request-log rows of an evaluation: batch_id = EVAL_PREFIX + run id
_OPTIONS = CallOptions()


class GatewayCaller:
    """A ``Caller`` (``evaluation.offline.calls``) over a gateway built from ``settings``.

    ``async with GatewayCaller(settings, run_id) as call:`` builds the gateway (its store and
    request log open); leaving writes every row still queued."""

    gateway: Gateway  # from ``async with`` on

    def __init__(self, settings: Settings, run_id: str, tenant: str = "default") -> None:
        self.settings = settings
        self.tag = EVAL_PREFIX + run_id
        self.principal = Principal(tenant=tenant)
        self._prepared = prepare(settings)

    def check_target(self, name: str) -> str | None:
        """Why ``name`` (a route, or a model with a deployment) cannot be evaluated, or None.
        Checked before a run, so a typo is not a failed answer recorded for every item."""
        gateway = self._prepared
        if name in gateway.policies:
            return None
        try:
            model = gateway.catalog.resolve(name)
        except GatewayError as exc:
            return exc.message
        if model.id not in gateway.deployments:
            served = ", ".join(sorted([*gateway.deployments, *gateway.policies]))
            return f"no deployment serves {name!r} in this config; served: {served}"
        return None

    async def __aenter__(self) -> GatewayCaller:
        self.gateway = await build_gateway(self._prepared)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0)  # rows handed over with call_soon are submitted first
        await self.gateway.aclose()

    async def __call__(
        self, model: str, messages: list[dict[str, Any]], max_tokens: int | None
    ) -> Answer:
        gateway = self.gateway
        # Its row only: an evaluation's call triggers no shadow and settles no budget.
        trace = RequestTrace(new_request_id(), OPENAI.name, on_finish=gateway.finisher.recorder)
        trace.batch_id = self.tag
        trace.principal = self.principal
        body: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        failure: GatewayError
        try:
            request = decode(OPENAI, orjson.dumps(body), gateway)
            plan = await admit(gateway, trace, request, self.principal)
            await complete(gateway, OPENAI, trace, request, plan, _OPTIONS)
        except GatewayError as exc:
            failure = exc
        except Exception:
            logger.exception("evaluation call %s failed", trace.request_id)
            failure = InternalError(f"internal error (request id {trace.request_id})")
        else:
            outcome = trace.outcome
            assert outcome is not None
            bill = trace.bill
            return Answer(
                text=outcome.response.text(),
                cost_usd=bill.usd if bill is not None else None,
                latency_ms=trace.latency_ms,
                request_id=trace.request_id,
                answered_by=outcome.model.id,
            )
        finish(gateway, trace, failure.status, failure)
        bill = trace.bill
        return Answer(
            text="",
            status=failure.status,
            cost_usd=bill.usd if bill is not None else None,
            latency_ms=trace.latency_ms,
            request_id=trace.request_id,
            error=failure.message,
        )
