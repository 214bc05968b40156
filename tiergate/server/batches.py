"""Batch jobs over HTTP: Anthropic's Message Batches API, and the pipeline each item runs.

    POST   /v1/messages/batches                create (up to ``batch.max_requests`` requests)
    GET    /v1/messages/batches                list, newest first (limit, before_id, after_id)
    GET    /v1/messages/batches/{id}           retrieve: status and counts
    POST   /v1/messages/batches/{id}/cancel    cancel: unstarted requests are dropped
    GET    /v1/messages/batches/{id}/results   the results, JSON Lines, once the job has ended
    DELETE /v1/messages/batches/{id}           delete an ended job

An item runs exactly as a non-streamed ``/v1/messages`` request from the key that created the
job: the same routing (a route name as ``model`` works), the key's model allowance and budget
(checked again when the item runs: a key revoked meanwhile fails the items left), retries and
escalation, and one row in the request log, priced. The result line carries that row's id
under ``tiergate.request_id``.

Cost: items are sent to the model's provider as ordinary requests, at ordinary prices. The
provider batch discount (0.5x) needs the provider's own batch API, which is not used (yet):
what a batch buys here is one API for every model and route, results kept for the caller, and
work that fills spare capacity instead of competing with live traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import orjson

from tiergate.batch import BatchRunner, Item, ItemResult, Job, JobStore
from tiergate.batch.jobs import now_ms
from tiergate.errors import (
    AuthenticationFailed,
    GatewayError,
    InternalError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from tiergate.providers.base import CallOptions
from tiergate.server.auth import ADMIN, OPEN, Principal
from tiergate.server.chat import admit, decode
from tiergate.server.record import RequestTrace
from tiergate.server.request_id import new_request_id
from tiergate.server.responses import (
    Receive,
    Scope,
    Send,
    read_body,
    request_headers,
    send_json,
)
from tiergate.wire import anthropic_batches as shapes
from tiergate.wire.anthropic import FORMAT as ANTHROPIC

if TYPE_CHECKING:
    from tiergate.server.gateway import Gateway

__all__ = ["PREFIX", "Batches"]

logger = logging.getLogger("tiergate")

PREFIX = "/v1/messages/batches"
_OPTIONS = CallOptions()  # the gateway's own provider keys: no caller headers to forward
_RESULTS_PAGE = 1000  # items read from the store per chunk of the results file
_JSONL = (b"content-type", b"application/x-jsonl")


class Batches:
    def __init__(self, gateway: Gateway, on_finish: Callable[[RequestTrace], None] | None) -> None:
        assert gateway.store is not None, "batches need the store: open it first"
        self._gateway = gateway
        self._on_finish = on_finish
        config = gateway.settings.batch
        self._config = config
        self.jobs = JobStore(gateway.store)
        self.runner = BatchRunner(
            self.jobs,
            self.execute,
            concurrency=config.concurrency,
            lease_seconds=config.lease_seconds,
            poll_seconds=config.poll_seconds,
        )

    def start(self) -> None:
        self.runner.start()

    async def aclose(self) -> None:
        await self.runner.aclose()

    # --- HTTP ---------------------------------------------------------------------------

    async def handle(
        self, principal: Principal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        method: str = scope["method"]
        parts = scope["path"][len(PREFIX) :].strip("/").split("/")
        if parts == [""]:
            if method == "POST":
                await self._create(principal, receive, send)
            elif method == "GET":
                await self._list(principal, scope, send)
            else:
                raise GatewayError(f"method {method} is not allowed on {PREFIX}", status=405)
            return
        job = await self._job(parts[0], principal)
        action = (method, parts[1] if len(parts) == 2 else "" if len(parts) == 1 else None)
        if action == ("GET", ""):
            await send_json(send, 200, await self._shown(job, scope))
        elif action == ("DELETE", ""):
            if job.ended_ms is None:
                raise InvalidRequest(
                    f"batch {job.id} is still {job.status}; cancel it and wait for it to end "
                    "before deleting it"
                )
            await self.jobs.delete(job.id)
            await send_json(send, 200, shapes.encode_deleted(job.id))
        elif action == ("POST", "cancel"):
            await self.jobs.cancel(job)
            await send_json(send, 200, await self._shown(await self._job(job.id, principal), scope))
        elif action == ("GET", "results"):
            await self._results(job, send)
        else:
            raise NotFound(f"no such endpoint: {method} {scope['path']}")

    async def _create(self, principal: Principal, receive: Receive, send: Send) -> None:
        config = self._config
        body = await read_body(receive, config.max_body_bytes)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
        items = shapes.decode_batch(payload, config.max_requests)
        for i, (_, params) in enumerate(items):  # refuse what the key may never run, now
            model = orjson.loads(params)["model"]
            try:
                principal.check_model(model)
            except PermissionDenied as exc:
                where = f"requests[{i}].params.model"
                raise PermissionDenied(f"{where}: {exc.message}", param=where) from None
        job = await self.jobs.create(
            "msgbatch_" + new_request_id()[4:],
            principal.tenant,
            principal.key_id,
            ANTHROPIC.name,
            items,
            int(config.expire_hours * 3_600_000),
        )
        self.runner.wake()
        await send_json(send, 200, shapes.encode_batch(job, {"queued": job.total}, None))

    async def _list(self, principal: Principal, scope: Scope, send: Send) -> None:
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise InvalidRequest("limit: must be an integer from 1 to 1000", param="limit")
        after, before = query.get("after_id"), query.get("before_id")
        jobs, more = await self.jobs.page(_visible_to(principal), limit, after=after, before=before)
        shown = [await self._shown(job, scope) for job in jobs]
        await send_json(send, 200, shapes.encode_page(shown, more))

    async def _results(self, job: Job, send: Send) -> None:
        if job.ended_ms is None:
            raise InvalidRequest(
                f"batch {job.id} is still {job.status}; its results are ready once "
                "processing_status is ended"
            )
        await send({"type": "http.response.start", "status": 200, "headers": [_JSONL]})
        after = -1
        while True:
            rows = await self.jobs.results(job.id, after, _RESULTS_PAGE)
            if not rows:
                break
            lines = [
                shapes.result_line(custom_id, state, result, _extra(request_id))
                for _, custom_id, state, result, request_id in rows
            ]
            await send({"type": "http.response.body", "body": b"".join(lines), "more_body": True})
            after = rows[-1][0]
        await send({"type": "http.response.body", "body": b""})

    async def _job(self, job_id: str, principal: Principal) -> Job:
        job = await self.jobs.get(job_id, _visible_to(principal))
        if job is None:
            raise NotFound(f"no such batch: {job_id}")
        return job

    async def _shown(self, job: Job, scope: Scope) -> dict[str, object]:
        return shapes.encode_batch(job, await self.jobs.counts(job.id), _results_url(scope, job.id))

    # --- one item -------------------------------------------------------------------------

    async def execute(self, item: Item) -> ItemResult:
        """Run one item as a non-streamed request of the job's key; every failure becomes an
        errored result (and a request-log row, like any failed request)."""
        gateway = self._gateway
        trace = RequestTrace(new_request_id(), ANTHROPIC.name, on_finish=self._on_finish)
        failure: GatewayError | None = None
        try:
            principal = await self._principal(item.job)
            trace.principal = principal
            request = decode(ANTHROPIC, item.params.encode(), gateway)
            plan = await admit(gateway, trace, request, principal)
            outcome = await gateway.executor.run(request, plan, _OPTIONS, trace.attempts)
            trace.outcome = outcome
            trace.finish(gateway.accountant, status=200)
            message = ANTHROPIC.encode_response(outcome.response, request.model)
            result = orjson.dumps(shapes.succeeded_result(message)).decode()
            return ItemResult(True, result, trace.request_id)
        except GatewayError as exc:
            failure = exc
        except Exception:
            logger.exception("batch %s item %d: request %s failed", item.job.id, item.n,
                             trace.request_id)  # fmt: skip
            failure = InternalError(f"internal error (request id {trace.request_id})")
        trace.finish(gateway.accountant, status=failure.status, error=failure)
        result = orjson.dumps(shapes.errored_result(failure)).decode()
        return ItemResult(False, result, trace.request_id)

    async def _principal(self, job: Job) -> Principal:
        """Who the job's items run as: its key, looked up again (it may have been revoked,
        or its limits changed, since the job was created)."""
        if job.key_id is None:
            return ADMIN if job.tenant == ADMIN.tenant else OPEN
        keys = self._gateway.keys
        info = await keys.get(job.key_id) if keys is not None else None
        if info is None:
            raise AuthenticationFailed("the API key that created this batch no longer exists")
        problem = info.usable(now_ms())
        if problem is not None:
            raise AuthenticationFailed(problem)
        return Principal(info.tenant, info, False, info.allowed_models)


def _extra(request_id: str | None) -> str | None:
    """What a result line adds under ``tiergate``: the item's request-log row."""
    return None if request_id is None else orjson.dumps({"request_id": request_id}).decode()


def _visible_to(principal: Principal) -> str | None:
    """The tenant whose jobs a caller sees: its own; the admin key sees every tenant's."""
    return None if principal.admin else principal.tenant


def _results_url(scope: Scope, job_id: str) -> str:
    """Absolute, as Anthropic's API gives it: the SDK fetches it as is. Behind a proxy the
    forwarded scheme and host win over the ones the gateway saw."""
    headers = request_headers(scope)
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}{scope.get('root_path', '')}{PREFIX}/{job_id}/results"
