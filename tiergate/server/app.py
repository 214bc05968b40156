"""The ASGI application: routing of paths to handlers, errors in the caller's format, lifespan.

A plain ASGI callable rather than a web framework: the gateway has a handful of fixed paths and
sits on every request, so dispatch is one dict lookup and no middleware stack runs.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from tiergate.errors import ConfigError, GatewayError, InternalError, InvalidRequest, NotFound
from tiergate.server import dashboard_api, endpoints
from tiergate.server.auth import OPEN, Principal
from tiergate.server.batches import PATHS as BATCH_PATHS
from tiergate.server.batches import Batches
from tiergate.server.chat import handle_chat
from tiergate.server.gateway import Gateway
from tiergate.server.lifeline import follow_parent
from tiergate.server.openapi import openapi_document
from tiergate.server.record import RequestTrace
from tiergate.server.request_id import new_request_id
from tiergate.server.responses import (
    ClientGone,
    Receive,
    Scope,
    Send,
    read_body,
    request_headers,
    send_bytes,
    send_json,
)
from tiergate.server.responses_endpoint import PATHS as RESPONSES_PATHS
from tiergate.server.responses_endpoint import handle_responses
from tiergate.wire.format import ErrorFormat, WireFormat

logger = logging.getLogger("tiergate")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
# A model endpoint once the caller is known and the body read: (trace, body, headers,
# principal, receive, send).
Serve = Callable[
    [RequestTrace, bytes, dict[str, str], Principal, Receive, Send], Awaitable[None]
]

# Young objects (net allocations) that trigger a collection; Python's default is 700.
GC_YOUNG_THRESHOLD = 50_000
# Paths that read the request log for the caller: they need to know who is asking.
_REPORT_PATHS = ("/v1/tiergate/report", *dashboard_api.DASHBOARD_PATHS)


def _asset_getter(path: str) -> Callable[[Scope, Send], Awaitable[None]]:
    return lambda scope, send: dashboard_api.asset(path, send)


def tune_collector() -> None:
    """Collect young objects after 50,000 net allocations instead of 700.

    A request's objects (decoded request, plan, attempts, the HTTP client's and uvicorn's
    per-request objects) live until it ends, and with 16 requests in flight they outnumber 700
    all the time: the collector then ran every few requests, scanned objects that were all
    still in use, promoted them, and freed nothing (``bench/gateway/gcstats.py`` measures it;
    figures in bench/results/history.md). Reference counting frees a request's
    objects when it ends; the collector is only for cycles, and 50,000 leaves room for a few
    hundred requests in flight while still bounding cyclic garbage to a few megabytes.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNG_THRESHOLD, young), middle, old)


def open_refusal(host: str) -> str:
    return (
        "no virtual keys exist, so the gateway would run open (no authentication); it does "
        f"that only on loopback, not on {host}. Create a key first "
        "(tiergate keys create --tenant NAME), or set allow_open_remote: true in the config "
        "(TIERGATE_ALLOW_OPEN_REMOTE=1) if the network itself is private"
    )


class App:
    def __init__(self, gateway: Gateway) -> None:
        from tiergate.wire.anthropic import FORMAT as ANTHROPIC
        from tiergate.wire.openai import FORMAT as OPENAI
        from tiergate.wire.responses import FORMAT as RESPONSES

        self.gateway = gateway
        self._openai: WireFormat = OPENAI
        self._anthropic: WireFormat = ANTHROPIC
        openai = (OPENAI, functools.partial(handle_chat, gateway, OPENAI))
        # The Responses API: the same pipeline, its own decoding and answer (see
        # ``server/responses_endpoint.py``).
        responses = (RESPONSES, functools.partial(handle_responses, gateway))
        self._chat: dict[str, tuple[ErrorFormat, Serve]] = {
            "/v1/chat/completions": openai,
            "/chat/completions": openai,
            "/v1/messages": (ANTHROPIC, functools.partial(handle_chat, gateway, ANTHROPIC)),
            **dict.fromkeys(RESPONSES_PATHS, responses),
        }
        self._get: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
            "/health": lambda scope, send: endpoints.health(self.gateway, send),
            "/v1/models": lambda scope, send: endpoints.models(self.gateway, scope, send),
            "/models": lambda scope, send: endpoints.models(self.gateway, scope, send),
            "/openapi.json": lambda scope, send: send_json(send, 200, openapi_document()),
            "/dashboard": lambda scope, send: endpoints.dashboard(send),
            **{path: _asset_getter(path) for path in dashboard_api.ASSETS},
            "/metrics": self._metrics,
        }
        self.on_finish: Callable[[RequestTrace], None] | None = None
        self.batches: Batches | None = None  # started with the store, in ``startup``
        self._tasks: set[asyncio.Future[None]] = set()
        # Watchers that live as long as the server (cancelled, not awaited, at shutdown).
        self._watchers: list[asyncio.Future[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            state = scope.get("state")
            if state is not None:  # the slow-client bounds (server/protocol.py)
                from tiergate.server.protocol import DEADLINES

                limits = self.gateway.settings.limits
                state[DEADLINES] = (limits.header_timeout_seconds, limits.body_timeout_seconds)
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        endpoint = self._chat.get(path)
        if endpoint is not None and method == "POST":
            await self._chat_request(*endpoint, scope, receive, send)
            return
        wire: ErrorFormat = self._anthropic if path.startswith("/v1/messages") else self._openai
        failure: GatewayError | None = None
        try:
            if "\x00" in path:  # ids in paths reach the store, which cannot hold a NUL
                raise InvalidRequest("the path must not contain a NUL character")
            if path.startswith(BATCH_PATHS):
                await self._batches(scope, receive, send)
                return
            if path.startswith(("/admin/", endpoints.TRACES_PATH)) or path in _REPORT_PATHS:
                await self._authenticated(scope, receive, send)
                return
            if path.startswith(endpoints.REQUESTS_PATH) and method in ("GET", "HEAD"):
                principal = await self.authenticate(request_headers(scope), scope)
                await endpoints.request_record(self.gateway, principal, path, send)
                return
            if method == "POST" and path == "/v1/messages/count_tokens":
                body = await read_body(receive, self.gateway.settings.limits.max_body_bytes)
                await endpoints.count_tokens(self.gateway, body, send)
                return
            getter = self._get.get(path)
            if getter is not None and method in ("GET", "HEAD"):
                await getter(scope, send)
                return
            if getter is not None or endpoint is not None:
                raise GatewayError(f"method {method} is not allowed on {path}", status=405)
            raise NotFound(f"no such endpoint: {method} {path}")
        except ClientGone:
            return
        except GatewayError as error:
            failure = error
        except Exception:
            logger.exception("unhandled error on %s %s", method, path)
            failure = InternalError("internal error")
        await self._send_error(wire, failure, send, {})

    async def _chat_request(
        self, wire: ErrorFormat, serve: Serve, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """One model request: ``serve`` runs it; a failure before the answer started is
        answered here, in ``wire``'s error shape."""
        trace = RequestTrace(new_request_id(), wire.name, on_finish=self.on_finish)
        failure: GatewayError | None = None
        try:
            headers = request_headers(scope)
            principal = await self.authenticate(headers, scope)
            trace.principal = principal
            body = await read_body(receive, self.gateway.settings.limits.max_body_bytes)
            await serve(trace, body, headers, principal, receive, send)
            return
        except ClientGone:
            trace.finish(self.gateway.accountant, status=499)
            return
        except GatewayError as error:
            failure = error
        except Exception:
            logger.exception("unhandled error in request %s", trace.request_id)
            failure = InternalError(f"internal error (request id {trace.request_id})")
        trace.finish(self.gateway.accountant, status=failure.status, error=failure)
        if not trace.responded:  # once the status line is out, the stream carries the error
            await self._send_error(wire, failure, send, {"x-tiergate-request-id": trace.request_id})

    async def _authenticated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admin API and reports: they need to know who is asking."""
        from tiergate.server.admin import handle_admin

        principal = await self.authenticate(request_headers(scope), scope)
        if scope["path"] == "/v1/tiergate/report":
            await endpoints.report(self.gateway, principal, scope, send)
            return
        if scope["path"].startswith(endpoints.TRACES_PATH):
            await endpoints.trace(self.gateway, principal, scope, send)
            return
        if scope["path"] in dashboard_api.DASHBOARD_PATHS:
            await dashboard_api.handle(self.gateway, principal, scope, send)
            return
        body = await read_body(receive, 1024 * 1024)
        await handle_admin(self.gateway, principal, scope, body, send)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        auth = self.gateway.auth
        if auth is not None:
            await auth.check_metrics(request_headers(scope), scope.get("server"))
        await endpoints.metrics(self.gateway, send)

    async def _batches(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = await self.authenticate(request_headers(scope), scope)
        if self.batches is None:
            raise GatewayError("batch jobs need the store, which is not open", status=503)
        await self.batches.handle(principal, scope, receive, send)

    async def authenticate(self, headers: dict[str, str], scope: Scope) -> Principal:
        auth = self.gateway.auth
        return OPEN if auth is None else await auth.authenticate(headers, scope.get("server"))

    async def _send_error(
        self, wire: ErrorFormat, error: GatewayError, send: Send, extra: dict[str, str]
    ) -> None:
        status, headers, body = wire.encode_error(error)
        headers = {**headers, **extra}
        await send_bytes(send, status, body, headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                problem: str | None = None
                try:
                    await self.startup()
                except ConfigError as exc:  # the operator's to fix, and it says how
                    logger.error("start-up refused: %s", exc)
                    problem = str(exc)
                except Exception as exc:
                    logger.exception("start-up failed")
                    problem = str(exc)
                if problem is not None:
                    await send({"type": "lifespan.startup.failed", "message": problem})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        from tiergate.server.recording import Recorder

        gateway = self.gateway
        await gateway.open_store()
        recorder = Recorder(gateway.log, gateway.metrics, gateway.settings.log.bodies)

        loop = asyncio.get_running_loop()
        shadows = gateway.shadows
        rollouts = gateway.rollouts

        def on_finish(trace: RequestTrace) -> None:
            # The log row and metrics are built on the loop's next turn: a non-streaming
            # request finishes just before its response is sent, and this work need not
            # delay it.
            loop.call_soon(recorder, trace)
            if trace.reservation is not None:
                self._background(self._settle(trace))
            if shadows is not None and trace.plan is not None and trace.plan.shadow is not None:
                shadows.launch(trace)
            if rollouts is not None and trace.plan is not None and trace.plan.rolled_from:
                rollouts.launch_judge(trace)

        self.on_finish = on_finish
        watcher = follow_parent()
        if watcher is not None:
            self._watchers.append(watcher)
        self.batches = Batches(gateway, on_finish)
        self.batches.start()
        if gateway.metrics is not None:
            gateway.metrics.watch_batches(self.batches.runner, self.batches.relay)
        if gateway.auth is not None and await gateway.auth.is_open():
            self._check_open(gateway.settings.host)
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # collector's generations, so collections during requests scan only request objects.
        gc.freeze()
        tune_collector()

    def _check_open(self, host: str) -> None:
        """Running open (no key yet): refuse to start on an address others can reach.

        The configured host, and the sockets this process already listens on (a worker
        inherits them); a server that binds only after start-up (``uvicorn --factory``
        without workers) is checked again once it listens, and every connection on a
        non-loopback address is refused anyway (``Authenticator``)."""
        from tiergate.server.addresses import is_loopback, non_loopback

        if self.gateway.settings.allow_open_remote:
            logger.warning(
                "no virtual keys configured: running OPEN (no authentication) on every "
                "address, as allow_open_remote says; create keys with `tiergate keys create`"
            )
            return
        exposed = ([] if is_loopback(host) else [host]) + non_loopback()
        if exposed:
            raise ConfigError(open_refusal(exposed[0]))
        logger.warning(
            "no virtual keys configured: running OPEN on loopback (%s); "
            "create keys with `tiergate keys create`",
            host,
        )
        self._watchers.append(asyncio.ensure_future(self._recheck_open()))

    async def _recheck_open(self) -> None:
        """Look again at the sockets once the server listens; stop it if one is public."""
        import os
        import signal

        from tiergate.server.addresses import non_loopback

        auth = self.gateway.auth
        for _ in range(20):
            await asyncio.sleep(0.25)
            if auth is None or not await auth.is_open():
                return
            exposed = non_loopback()
            if exposed:
                logger.error("start-up refused: %s", open_refusal(exposed[0]))
                os.kill(os.getpid(), signal.SIGTERM)
                return

    async def _settle(self, trace: RequestTrace) -> None:
        from tiergate.store.records import to_nano

        guard, reservation = self.gateway.guard, trace.reservation
        if guard is None or reservation is None:
            return
        if trace.bill is not None and trace.bill.usd is not None:
            actual = to_nano(trace.bill.usd) or 0
        elif trace.bill is None:
            actual = 0  # nothing ran (the request failed before any upstream call)
        else:
            actual = reservation.nano  # unpriced model: charge the estimate, never 0
        await guard.ledger.settle(reservation, actual)

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        if self.batches is not None:  # items in flight finish (or go back) before the log closes
            await self.batches.aclose()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.aclose()
