"""Batch items through the providers' own batch APIs (Anthropic's Message Batches, OpenAI's
Batch API): which items go, and how the provider's answers come back as results and
request-log rows, priced at batch rates (half price).

An item goes to the provider's batch API when its plan is a single model with no validators
and no shadow, the deployment that would answer it first has ``batch_api``, and its key has
no budget (a provider batch answers hours later, after any live reservation would be long
settled; such keys' items run live). Everything else about the item is decided as for a live
request, when the runner looks at it: the key, its allowance and rate limits, the route.

An answer the provider could not give (an overloaded or internal error, a batch canceled or
expired upstream while the job runs on) is not the item's result: the item runs live instead.
An invalid request is its result, as it would be live.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.batch.jobs import Job, now_ms
from tiergate.batch.upstream_store import Parked, RelayStore, SentBatch
from tiergate.cost.caching import apply_cache_breakpoints
from tiergate.cost.estimate import complete_usage, needs_estimate, response_units
from tiergate.errors import GatewayError, ProviderError
from tiergate.executor import Attempt, Outcome
from tiergate.gateway.auth import Principal
from tiergate.gateway.pipeline import decode, finish
from tiergate.gateway.request_id import new_request_id
from tiergate.gateway.trace import RequestTrace
from tiergate.providers.anthropic_batch_client import MessageBatchesAPI
from tiergate.providers.base import Deployment
from tiergate.providers.batch_clients import BatchLine, ProviderBatches
from tiergate.providers.http import upstream_payload
from tiergate.providers.openai_batch_client import OpenAIBatchesAPI
from tiergate.routing.plan import Plan, Tier
from tiergate.types import ChatRequest
from tiergate.wire.batch_states import ItemState
from tiergate.wire.format import WireFormat

if TYPE_CHECKING:
    from tiergate.batch.jobs import Item
    from tiergate.gateway.gateway import Gateway

__all__ = ["ProviderBatchRelay", "relay_target"]

logger = logging.getLogger("tiergate")


def relay_target(
    item: Item, request: ChatRequest, plan: Plan, principal: Principal
) -> Deployment | None:
    """The deployment whose batch API answers this item, or None: it runs live."""
    if item.live_only or request.stream or plan.validators or plan.shadow is not None:
        return None
    if len(plan.tiers) != 1 or not plan.tiers[0].deployments:
        return None
    if principal.key is not None and principal.key.budget_usd is not None:
        return None
    deployment = plan.tiers[0].deployments[0]
    return deployment if deployment.batch_api else None


def _custom_id(n: int) -> str:
    return f"item-{n}"  # the provider allows [a-zA-Z0-9_-]{1,64}


class ProviderBatchRelay:
    """The ``BatchAPI`` (``batch/upstream_relay.py``): each deployment's provider batch API."""

    def __init__(
        self,
        gateway: Gateway,
        store: RelayStore,
        formats: dict[str, WireFormat],
    ) -> None:
        self._gateway = gateway
        self._store = store
        self._formats = formats
        self._on_finish = gateway.finisher.on_finish
        session = gateway.providers.session
        self._apis: dict[str, ProviderBatches] = {
            "anthropic": MessageBatchesAPI(session),
            "openai": OpenAIBatchesAPI(session),
        }

    def upstream_request(self, request: ChatRequest, plan: Plan, deployment: Deployment) -> str:
        """What is parked for the provider (JSON text): the request as the live call would
        send it (cache breakpoints included), and the route and reason for the log row."""
        model = plan.tiers[0].model
        if self._gateway.settings.auto_cache and model.provider == "anthropic":
            request = apply_cache_breakpoints(request, model)
        wire = self._apis[deployment.provider].wire
        params = upstream_payload(wire, request, deployment)
        envelope = {"route": plan.policy, "reason": plan.reason, "params": params}
        return orjson.dumps(envelope).decode()

    def _deployment(self, name: str) -> Deployment | None:
        for deployments in self._gateway.deployments.values():
            for deployment in deployments:
                if deployment.name == name and deployment.batch_api:
                    return deployment
        return None

    async def send(self, deployment: str, parked: Sequence[Parked]) -> str:
        target = self._deployment(deployment)
        if target is None:
            raise ProviderError(
                f"deployment {deployment!r} no longer sends batches",
                status=400,
                provider=deployment,
                retryable=False,
            )
        requests = [(_custom_id(p.item.n), orjson.loads(p.upstream)["params"]) for p in parked]
        return (await self._apis[target.provider].create(target, requests)).id

    async def cancel(self, sent: SentBatch) -> None:
        target = self._deployment(sent.deployment)
        if target is not None:
            await self._apis[target.provider].cancel(target, sent.id)

    async def discard(self, sent: SentBatch) -> None:
        target = self._deployment(sent.deployment)
        if target is not None:
            await self._apis[target.provider].discard(target, sent.id)

    async def collect(self, sent: SentBatch) -> bool:
        target = self._deployment(sent.deployment)
        if target is None:  # the config no longer has it: the items run live
            for parked in await self._store.waiting(sent):
                await self._store.to_live(sent, parked.item.n)
            return True
        api = self._apis[target.provider]
        batch = await api.retrieve(target, sent.id)
        if not batch.ended:
            return False
        lines = await api.results(target, batch)
        waiting = {_custom_id(p.item.n): p for p in await self._store.waiting(sent)}
        principal = await self._principal(sent.job)
        for line in lines:
            found = waiting.pop(line.custom_id) if line.custom_id in waiting else None
            if found is not None:
                await self._one(sent, found, line, target, principal)
        for parked in waiting.values():  # the provider gave no line for it
            await self._unanswered(sent, parked, None)
        return True

    async def _principal(self, job: Job) -> Principal:
        """Whom the answers are logged for: the job's key as it is now (revoked or not: the
        answers are paid for), else just its tenant."""
        info = await self._gateway.keys.get(job.key_id) if job.key_id else None
        return Principal.of_key(info) if info is not None else Principal(tenant=job.tenant)

    async def _one(
        self,
        sent: SentBatch,
        parked: Parked,
        line: BatchLine,
        deployment: Deployment,
        principal: Principal,
    ) -> None:
        try:
            if line.kind == "succeeded":
                await self._succeeded(sent, parked, line.body, deployment, principal)
            elif line.kind == "errored" and line.final:
                await self._invalid(sent, parked, line, deployment, principal)
            else:
                await self._unanswered(sent, parked, line.kind)
        except GatewayError:  # an answer (or error) we cannot read: run the item live instead
            logger.exception(
                "batch %s item %d: unreadable line in provider batch %s",
                sent.job.id,
                parked.item.n,
                sent.id,
            )
            await self._store.to_live(sent, parked.item.n)

    async def _unanswered(self, sent: SentBatch, parked: Parked, kind: str | None) -> None:
        """No answer from the provider: the item's end if its job has ended that way (it was
        canceled, or it expired), else it runs live."""
        job, n = sent.job, parked.item.n
        if kind == "canceled" and job.cancel_ms is not None:
            await self._store.answer(sent, n, ItemState.CANCELED, None, None, None)
        elif kind == "expired" and job.expires_ms <= now_ms():
            await self._store.answer(sent, n, ItemState.EXPIRED, None, None, None)
        else:
            await self._store.to_live(sent, n)

    def _trace(
        self, sent: SentBatch, parked: Parked, deployment: Deployment, principal: Principal
    ) -> tuple[RequestTrace, WireFormat, ChatRequest, Attempt]:
        """The request-log trace of one answer: request, plan and attempt as they ran."""
        wire = self._formats[sent.job.client_format]
        trace = RequestTrace(new_request_id(), wire.name, on_finish=self._on_finish)
        trace.principal = principal
        trace.batch, trace.batch_id = True, sent.job.id
        request = decode(wire, parked.item.params.encode(), self._gateway)
        trace.request = request
        model = self._gateway.catalog.resolve(deployment.model_id)
        envelope = orjson.loads(parked.upstream)
        tier = Tier(model, (deployment,))
        trace.plan = Plan((tier,), str(envelope["reason"]), str(envelope["route"]))
        attempt = Attempt(1, 0, model, deployment)
        trace.attempts.append(attempt)
        return trace, wire, request, attempt

    async def _succeeded(
        self,
        sent: SentBatch,
        parked: Parked,
        message: Any,
        deployment: Deployment,
        principal: Principal,
    ) -> None:
        trace, wire, request, attempt = self._trace(sent, parked, deployment, principal)
        response = self._apis[deployment.provider].wire.decode_response(message)
        if needs_estimate(response.usage):  # a provider result without usage: never $0
            response.usage, attempt.estimated = complete_usage(
                response.usage, request, response_units(response), ended=True
            )
        attempt.usage, attempt.status = response.usage, 200
        trace.outcome = Outcome(response, 0, attempt.model, deployment, trace.attempts)
        body = orjson.dumps(wire.encode_response(response, request.model)).decode()
        # Stored first, logged only if stored: a result another replica stored is its row.
        stored = await self._store.answer(
            sent, parked.item.n, ItemState.SUCCEEDED, 200, body, trace.request_id
        )
        if stored:
            finish(self._gateway, trace, 200)

    async def _invalid(
        self,
        sent: SentBatch,
        parked: Parked,
        line: BatchLine,
        deployment: Deployment,
        principal: Principal,
    ) -> None:
        trace, wire, _, attempt = self._trace(sent, parked, deployment, principal)
        failure = self._apis[deployment.provider].wire.decode_error(
            line.status, {}, orjson.dumps(line.body), deployment.name
        )
        attempt.outcome, attempt.status = "provider_error", line.status
        attempt.error = failure.message
        status, _, body = wire.encode_error(failure)
        stored = await self._store.answer(
            sent, parked.item.n, ItemState.ERRORED, status, body.decode(), trace.request_id
        )
        if stored:
            finish(self._gateway, trace, status, failure)
