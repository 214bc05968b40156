"""Batch jobs of this gateway: created, run item by item through the request pipeline, relayed.

Anthropic's Message Batches (``server/batch_anthropic.py``) and OpenAI's Batch and Files APIs
(``server/batch_openai.py``) are two HTTP doors to the same jobs (stored and run by
``tiergate/batch``); ``Batches`` is what both call. An item runs
exactly as a non-streamed chat request from the key that created the job: the same routing (a
route name as ``model`` works), the key's model allowance and budget (checked again when the
item runs: a key revoked meanwhile fails the items left), retries and escalation, and one row
in the request log, priced. Each result line names that row (``tiergate.request_id`` in
Anthropic's, ``response.request_id`` in OpenAI's).

Cost: items are sent to the model's provider as ordinary requests, at ordinary prices,
unless the deployment that answers them has ``batch_api``: then they go through the provider's
own batch API at its batch price (``gateway/provider_batches.py``, ``batch/upstream_relay.py``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING

from tiergate.batch import (
    Answered,
    BatchRunner,
    FileStore,
    Item,
    ItemResult,
    Job,
    JobStore,
    Relayed,
)
from tiergate.batch.jobs import now_ms
from tiergate.batch.upstream_relay import Relay
from tiergate.batch.upstream_store import RelayStore
from tiergate.errors import (
    AuthenticationFailed,
    GatewayError,
    InternalError,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
)
from tiergate.gateway.auth import ADMIN, OPEN, Principal, usable_key
from tiergate.gateway.pipeline import admit, complete, decode, finish
from tiergate.gateway.provider_batches import ProviderBatchRelay, relay_target
from tiergate.gateway.request_id import new_request_id
from tiergate.gateway.trace import RequestTrace
from tiergate.providers.base import CallOptions
from tiergate.wire.anthropic import FORMAT as ANTHROPIC
from tiergate.wire.format import WireFormat
from tiergate.wire.openai import FORMAT as OPENAI

if TYPE_CHECKING:
    from tiergate.gateway.gateway import Gateway

__all__ = ["Batches", "check_models", "visible_to"]

logger = logging.getLogger("tiergate")

_FORMATS: dict[str, WireFormat] = {ANTHROPIC.name: ANTHROPIC, OPENAI.name: OPENAI}
_OPTIONS = CallOptions()  # the gateway's own provider keys: no caller headers to forward
_LONGEST_WAIT = 600.0  # seconds: a failure that needs longer to pass is the item's result


class Batches:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._on_finish = gateway.finisher.on_finish
        self.config = gateway.settings.batch
        self.jobs = JobStore(gateway.store, new_request_id)
        self.files = FileStore(gateway.store)
        self.runner = BatchRunner(
            self.jobs,
            self.execute,
            concurrency=self.config.concurrency,
            lease_seconds=self.config.lease_seconds,
            poll_seconds=self.config.poll_seconds,
            max_tries=self.config.max_tries,
            housekeeping=self.purge,
        )
        relayed = RelayStore(gateway.store, self.jobs)
        sends = any(d.batch_api for ds in gateway.deployments.values() for d in ds)
        self.provider_batches = ProviderBatchRelay(gateway, relayed, _FORMATS)
        self.relay = Relay(
            relayed,
            self.provider_batches,
            owner=self.runner.owner,
            # Without a batch_api deployment there is nothing to send, only provider batches
            # of an earlier config to bring home: look rarely.
            tick_seconds=self.config.poll_seconds if sends else 60.0,
            poll_seconds=self.config.upstream_poll_seconds,
            max_requests=self.config.upstream_max_requests,
            lease_seconds=self.config.lease_seconds,
        )

    async def purge(self) -> None:
        """Delete ended jobs and uploaded files older than ``batch.keep_days``."""
        before = now_ms() - int(self.config.keep_days * 86_400_000)
        await self.jobs.purge(before)
        await self.files.purge(before)

    def start(self) -> None:
        self.runner.start()
        self.relay.start()

    async def aclose(self) -> None:
        await self.runner.aclose()
        await self.relay.aclose()

    async def submit(
        self,
        principal: Principal,
        *,
        wire: WireFormat,
        id_prefix: str,
        items: AsyncIterable[list[tuple[str, str, str]]],
        where: Callable[[int], str],
        **extra: str | None,
    ) -> Job:
        """Queue a job of checked ``items`` ((custom_id, params JSON, model), in pieces as
        they are read) for ``principal``; the runner is woken at once.

        The pieces are stored as they come, and the job appears only once all are in. A
        refusal raised by ``items`` (a bad request), or a model the key may never use (named
        by ``where`` of its index, once every request has been read, as a bad request
        further on outranks it), refuses the whole job and leaves nothing stored."""
        job = await self.jobs.create(
            job_id=id_prefix + new_request_id()[4:],
            tenant=principal.tenant,
            key_id=principal.key_id,
            client_format=wire.name,
            items=_allowed(principal, items, where),
            expire_ms=int(self.config.expire_hours * 3_600_000),
            **extra,
        )
        self.runner.wake()
        return job

    async def job(self, job_id: str, principal: Principal, wire: WireFormat) -> Job:
        """The job ``principal`` asked for through ``wire``'s API; 404 if it cannot see it."""
        job = await self.jobs.get(job_id, visible_to(principal), wire.name)
        if job is None:
            raise NotFound(f"no such batch: {job_id}")
        return job

    async def execute(self, item: Item) -> ItemResult:
        """Run one item as a non-streamed chat request of the job's key, in the job's wire
        format; every failure becomes an error answer (and a request-log row, like any
        failed request)."""
        gateway = self._gateway
        wire = _FORMATS[item.job.client_format]
        trace = RequestTrace(
            item.request_id or new_request_id(), wire.name, on_finish=self._on_finish
        )
        trace.batch_id = item.job.id
        failure: GatewayError | None = None
        try:
            principal = await self._principal(item.job)
            trace.principal = principal
            request = decode(wire, item.params.encode(), gateway)
            plan = await admit(gateway, trace, request, principal)
            target = relay_target(item, request, plan, principal)
            if target is not None:  # answered later, through the provider's batch API
                upstream = self.provider_batches.upstream_request(request, plan, target)
                return Relayed(target.name, upstream)
            answer = await complete(gateway, wire, trace, request, plan, _OPTIONS)
            return Answered(200, answer.decode(), trace.request_id)
        except GatewayError as exc:
            failure = exc
        except Exception:
            logger.exception(
                "batch %s item %d: request %s failed", item.job.id, item.n, trace.request_id
            )
            failure = InternalError(f"internal error (request id {trace.request_id})")
        finish(gateway, trace, failure.status, failure)
        status, _, body = wire.encode_error(failure)
        wait = _wait_out(failure, item.tries)
        return Answered(status, body.decode(), trace.request_id, wait)

    async def _principal(self, job: Job) -> Principal:
        """Who the job's items run as: its key, looked up again (it may have been revoked,
        or its limits changed, since the job was created)."""
        if job.key_id is None:
            if job.tenant == ADMIN.tenant:
                return ADMIN
            if not await self._gateway.auth.is_open():
                # Made by an unauthenticated caller while no key existed: once keys exist,
                # its requests left would run unbudgeted for a caller no one can name.
                raise AuthenticationFailed(
                    "this batch was created without an API key while the gateway ran open; "
                    "keys exist now, so its remaining requests were not run: create it again "
                    "with a key"
                )
            return OPEN
        info = await self._gateway.keys.get(job.key_id)
        if info is None:
            raise AuthenticationFailed("the API key that created this batch no longer exists")
        usable_key(info)
        return Principal.of_key(info)


def check_models(
    principal: Principal, models: list[str], where: Callable[[int], str], first: int = 0
) -> None:
    """Refuse, at creation, a job holding a request for a model the key may never use; the
    message names the first such request (``where`` of its index, ``models[0]`` being
    request ``first``)."""
    for model in dict.fromkeys(models):
        try:
            principal.check_model(model)
        except PermissionDenied as exc:
            at = where(first + models.index(model))
            raise PermissionDenied(f"{at}: {exc.message}", param=at) from None


async def _allowed(
    principal: Principal,
    items: AsyncIterable[list[tuple[str, str, str]]],
    where: Callable[[int], str],
) -> AsyncIterator[list[tuple[str, str]]]:
    """``items`` as stored ((custom_id, params)), the models checked piece by piece; a
    forbidden one is raised once ``items`` has ended without a refusal of its own, and
    nothing more is stored meanwhile."""
    forbidden: PermissionDenied | None = None
    seen = 0
    async for piece in items:
        if forbidden is None:
            try:
                check_models(principal, [model for _, _, model in piece], where, seen)
            except PermissionDenied as exc:
                forbidden = exc
            else:
                yield [(custom_id, params) for custom_id, params, _ in piece]
        seen += len(piece)
    if forbidden is not None:
        raise forbidden


def _wait_out(failure: GatewayError, tries: int) -> float | None:
    """Seconds to wait before running a failed item again, or None when waiting cannot help.

    An upstream's 429 or 5xx (after the executor's own retries and fail-over) and the key's
    rate limit pass with time; a spent budget (its period ends in days) and a bad request do
    not. The upstream's or limit's own hint is used, else 30 s doubling per try."""
    hint = failure.retry_after
    if isinstance(failure, ProviderError):
        if not failure.retryable:
            return None
    elif not isinstance(failure, RateLimited) or hint is None or hint > _LONGEST_WAIT:
        return None
    return min(hint if hint is not None else 30.0 * 2**tries, _LONGEST_WAIT)


def visible_to(principal: Principal) -> str | None:
    """The tenant whose jobs and files a caller sees: its own; the admin key sees all."""
    return None if principal.admin else principal.tenant
