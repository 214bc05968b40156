"""The ASGI application: the route table, errors in the caller's format, lifespan.

A plain ASGI callable rather than a web framework: the gateway sits on every request, so a
fixed path's dispatch is a dict lookup and no middleware stack runs. Every endpoint is one
line of ``App.route_table``; ``server/routes.py`` matches requests against it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Awaitable, Callable

from tiergate.errors import (
    ConfigError,
    GatewayError,
    InternalError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from tiergate.gateway.auth import Principal
from tiergate.gateway.batch_items import Batches
from tiergate.gateway.factory import Prepared, build_gateway
from tiergate.gateway.gateway import Gateway
from tiergate.gateway.health import starting
from tiergate.gateway.pipeline import finish
from tiergate.gateway.request_id import new_request_id
from tiergate.gateway.trace import RequestTrace
from tiergate.server import dashboard_api, endpoints
from tiergate.server.chat import handle_chat
from tiergate.server.lifeline import follow_parent
from tiergate.server.openapi import openapi_document
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
from tiergate.server.responses_endpoint import handle_responses
from tiergate.server.routes import Auth, Call, Endpoint, Route, RouteTable
from tiergate.wire.format import ErrorFormat

logger = logging.getLogger("tiergate")

# A model endpoint once the caller is known and the body read: (gateway, trace, body,
# headers, principal, receive, send).
Serve = Callable[
    [Gateway, RequestTrace, bytes, dict[str, str], Principal, Receive, Send], Awaitable[None]
]
# An endpoint that needs the gateway: it gets the one built at start-up.
OnGateway = Callable[[Gateway, Call], Awaitable[None]]
GET, POST, DELETE = ("GET",), ("POST",), ("DELETE",)

# Young objects (net allocations) that trigger a collection; Python's default is 700.
GC_YOUNG_THRESHOLD = 50_000


def _wire_of(path: str) -> ErrorFormat:
    """The error format for a path no route has: Anthropic's under its prefix."""
    from tiergate.wire.anthropic import FORMAT as ANTHROPIC
    from tiergate.wire.openai import FORMAT as OPENAI

    return ANTHROPIC if path.startswith("/v1/messages") else OPENAI


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


def _starting() -> GatewayError:
    """Before start-up has built the gateway (its store opens inside the event loop)."""
    return GatewayError("the gateway is starting: its store is not open yet", status=503)


class App:
    """The HTTP server over one gateway, which it builds at start-up (``build_gateway`` needs
    the event loop: the store opens there) from what ``prepare`` made of the settings."""

    gateway: Gateway  # from start-up on

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.settings = prepared.settings
        self.routes = RouteTable(self.route_table())
        # The fixed paths' routes by path then method: a chat request's dispatch is two
        # dict lookups.
        self._fixed = self.routes.fixed
        self.batches: Batches | None = None  # started with the gateway, in ``startup``
        self._started = False  # the gateway is built
        # Watchers that live as long as the server (cancelled, not awaited, at shutdown).
        self._watchers: list[asyncio.Future[None]] = []

    def route_table(self) -> list[Route]:
        """Every HTTP endpoint: methods, path, who may call it, the wire format of its errors,
        and its handler. To add one, write a handler taking a ``Call`` and add a line here."""
        from tiergate.server import admin as keys
        from tiergate.server import batch_anthropic as messages
        from tiergate.server import batch_openai as files
        from tiergate.wire.anthropic import FORMAT as ANTHROPIC
        from tiergate.wire.openai import FORMAT as OPENAI
        from tiergate.wire.responses import FORMAT as RESPONSES

        g, batch, on = self._on_gateway, self._batch, functools.partial
        chat = self._model(OPENAI, on(handle_chat, OPENAI))
        messages_api = self._model(ANTHROPIC, on(handle_chat, ANTHROPIC))
        # The Responses API: the same pipeline, its own decoding and answer.
        responses = self._model(RESPONSES, handle_responses)
        report, trace = g(endpoints.report), g(endpoints.trace)
        timeseries = g(dashboard_api.timeseries_data)
        request_list = g(dashboard_api.request_list)
        request_record = g(endpoints.request_record)
        assets = [
            Route(GET, path, Auth.NONE, OPENAI, on(self._asset, path))
            for path in dashboard_api.ASSETS
        ]
        model, key, admin, anyone = Auth.MODEL, Auth.KEY, Auth.ADMIN, Auth.NONE
        metrics = Auth.METRICS
        # fmt: off
        return [
            # Model requests (``server/chat.py``, ``server/responses_endpoint.py``).
            Route(POST,   "/v1/chat/completions",      model,  OPENAI,    chat),
            Route(POST,   "/chat/completions",         model,  OPENAI,    chat),
            Route(POST,   "/v1/messages",              model,  ANTHROPIC, messages_api),
            Route(POST,   "/v1/responses",             model,  RESPONSES, responses),
            Route(POST,   "/responses",                model,  RESPONSES, responses),
            Route(POST,   "/v1/messages/count_tokens", key,    ANTHROPIC, self._count_tokens),
            # The gateway itself.
            Route(GET,    "/health",       anyone,  OPENAI, self._health),
            Route(GET,    "/v1/models",    anyone,  OPENAI, self._send_models),
            Route(GET,    "/models",       anyone,  OPENAI, self._send_models),
            Route(GET,    "/openapi.json", anyone,  OPENAI, self._openapi),
            Route(GET,    "/metrics",      metrics, OPENAI, self._metrics),
            Route(GET,    "/dashboard",    anyone,  OPENAI, self._dashboard),
            *assets,
            # The request log, tenant-scoped by the caller's key.
            Route(GET,    "/v1/tiergate/report",                 key, OPENAI, report),
            Route(GET,    "/v1/tiergate/timeseries",             key, OPENAI, timeseries),
            Route(GET,    "/v1/tiergate/requests",               key, OPENAI, request_list),
            Route(GET,    "/v1/tiergate/traces/{trace_id:path}", key, OPENAI, trace),
            Route(GET,    "/v1/requests/{request_id}",           key, OPENAI, request_record),
            # Virtual keys (``server/admin.py``).
            Route(POST,   "/admin/keys",                 admin, OPENAI, g(keys.create_key)),
            Route(GET,    "/admin/keys",                 admin, OPENAI, g(keys.list_keys)),
            Route(DELETE, "/admin/keys/{key_id}",        admin, OPENAI, g(keys.revoke_key)),
            Route(POST,   "/admin/keys/{key_id}/rotate", admin, OPENAI, g(keys.rotate_key)),
            Route(GET,    "/admin/keys/{key_id}/spend",  admin, OPENAI, g(keys.key_spend)),
            # Anthropic's Message Batches (``server/batch_anthropic.py``).
            Route(POST,   "/v1/messages/batches",                    key, ANTHROPIC,
                  batch(messages.create)),
            Route(GET,    "/v1/messages/batches",                    key, ANTHROPIC,
                  batch(messages.list_jobs)),
            Route(GET,    "/v1/messages/batches/{batch_id}",         key, ANTHROPIC,
                  batch(messages.retrieve)),
            Route(DELETE, "/v1/messages/batches/{batch_id}",         key, ANTHROPIC,
                  batch(messages.delete)),
            Route(POST,   "/v1/messages/batches/{batch_id}/cancel",  key, ANTHROPIC,
                  batch(messages.cancel)),
            Route(GET,    "/v1/messages/batches/{batch_id}/results", key, ANTHROPIC,
                  batch(messages.results)),
            # OpenAI's Files and Batch APIs (``server/batch_openai.py``).
            Route(POST,   "/v1/files",                     key, OPENAI, batch(files.upload)),
            Route(GET,    "/v1/files",                     key, OPENAI, batch(files.list_files)),
            Route(GET,    "/v1/files/{file_id}",           key, OPENAI, batch(files.file)),
            Route(DELETE, "/v1/files/{file_id}",           key, OPENAI, batch(files.delete_file)),
            Route(GET,    "/v1/files/{file_id}/content",   key, OPENAI, batch(files.file_content)),
            Route(POST,   "/v1/batches",                   key, OPENAI, batch(files.create)),
            Route(GET,    "/v1/batches",                   key, OPENAI, batch(files.list_jobs)),
            Route(GET,    "/v1/batches/{batch_id}",        key, OPENAI, batch(files.retrieve)),
            Route(POST,   "/v1/batches/{batch_id}/cancel", key, OPENAI, batch(files.cancel)),
        ]
        # fmt: on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            state = scope.get("state")
            if state is not None:  # the slow-client bounds (server/protocol.py)
                from tiergate.server.protocol import DEADLINES

                limits = self.settings.limits
                state[DEADLINES] = (limits.header_timeout_seconds, limits.body_timeout_seconds)
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        methods = self._fixed.get(path)
        route = methods.get(method) if methods is not None else None
        if route is not None and route.auth is Auth.MODEL:  # answers its own errors
            await route.handler(Call(scope, receive, send))
            return
        wire: ErrorFormat = route.wire if route is not None else _wire_of(path)
        extra: dict[str, str] = {}
        failure: GatewayError | None = None
        try:
            if route is not None:
                call = Call(scope, receive, send)
            else:
                if "\x00" in path:  # ids in paths reach the store, which cannot hold a NUL
                    raise InvalidRequest("the path must not contain a NUL character")
                found = self.routes.match(method, path)
                if found is None:
                    raise NotFound(f"no such endpoint: {method} {path}")
                if found.route is None:
                    wire = next(iter(found.allowed.values())).wire
                    extra = {"allow": ", ".join(sorted(found.allowed))}
                    raise GatewayError(f"method {method} is not allowed on {path}", status=405)
                route = found.route
                wire = route.wire
                call = Call(scope, receive, send, params=found.params)
                if route.auth is Auth.MODEL:
                    await route.handler(call)
                    return
            await self._admit(route.auth, call)
            await route.handler(call)
            return
        except ClientGone:
            return
        except GatewayError as error:
            failure = error
        except Exception:
            logger.exception("unhandled error on %s %s", method, path)
            failure = InternalError("internal error")
        await self._send_error(wire, failure, send, extra)

    async def _admit(self, auth: Auth, call: Call) -> None:
        """Let the caller through to a route needing ``auth``, or raise (401/403; 503 before
        start-up has built the gateway, whose key store says who is calling)."""
        if auth is Auth.NONE:
            return
        if not self._started:
            raise _starting()
        headers = request_headers(call.scope)
        if auth is Auth.METRICS:
            await self.gateway.auth.check_metrics(headers, call.scope.get("server"))
            return
        call.principal = await self.authenticate(headers, call.scope)
        if auth is Auth.ADMIN and not call.principal.admin:
            raise PermissionDenied("the admin API needs the admin key (TIERGATE_ADMIN_KEY)")

    def _model(self, wire: ErrorFormat, serve: Serve) -> Endpoint:
        return functools.partial(self._chat_request, wire, serve)

    async def _chat_request(self, wire: ErrorFormat, serve: Serve, call: Call) -> None:
        """One model request: ``serve`` runs it; a failure before the answer started is
        answered here, in ``wire``'s error shape."""
        scope, receive, send = call.scope, call.receive, call.send
        if not self._started:  # no gateway yet: only without a lifespan (uvicorn runs it first)
            await self._send_error(wire, _starting(), send, {})
            return
        gateway = self.gateway
        trace = RequestTrace(new_request_id(), wire.name, on_finish=gateway.finisher.on_finish)
        failure: GatewayError | None = None
        try:
            headers = request_headers(scope)
            principal = await gateway.auth.authenticate(headers, scope.get("server"))
            trace.principal = principal
            body = await read_body(receive, self.settings.limits.max_body_bytes)
            await serve(gateway, trace, body, headers, principal, receive, send)
            return
        except ClientGone:
            finish(gateway, trace, 499)
            return
        except GatewayError as error:
            failure = error
        except Exception:
            logger.exception("unhandled error in request %s", trace.request_id)
            failure = InternalError(f"internal error (request id {trace.request_id})")
        finish(gateway, trace, failure.status, failure)
        if not trace.responded:  # once the status line is out, the stream carries the error
            await self._send_error(wire, failure, send, {"x-tiergate-request-id": trace.request_id})

    async def _count_tokens(self, call: Call) -> None:
        body = await read_body(call.receive, self.settings.limits.max_body_bytes)
        await endpoints.count_tokens(self.gateway, body, call.send)

    async def _health(self, call: Call) -> None:
        state = await self.gateway.health.check() if self._started else starting()
        await endpoints.health(self.prepared.deployments, state, call.send)

    async def _send_models(self, call: Call) -> None:
        if not self._started:
            raise _starting()
        await endpoints.models(self.gateway, call.scope, call.send)

    async def _openapi(self, call: Call) -> None:
        await send_json(call.send, 200, openapi_document())

    async def _dashboard(self, call: Call) -> None:
        await endpoints.dashboard(call.send)

    async def _asset(self, path: str, call: Call) -> None:
        await dashboard_api.asset(path, call.send)

    async def _metrics(self, call: Call) -> None:
        await endpoints.metrics(self.gateway, call.send)

    def _on_gateway(self, handler: OnGateway) -> Endpoint:
        """``handler`` with the gateway, which exists from start-up on."""

        async def endpoint(call: Call) -> None:
            await handler(self.gateway, call)

        return endpoint

    def _batch(self, handler: Callable[[Batches, Call], Awaitable[None]]) -> Endpoint:
        """``handler`` with the batch jobs, which exist only once the store is open."""

        async def endpoint(call: Call) -> None:
            if self.batches is None:  # before start-up
                raise GatewayError("batch jobs need the store, which is not open", status=503)
            await handler(self.batches, call)

        return endpoint

    async def authenticate(self, headers: dict[str, str], scope: Scope) -> Principal:
        return await self.gateway.auth.authenticate(headers, scope.get("server"))

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
        """Build the gateway and start what runs beside it; when a step after the build fails
        (open mode refused on a public address, say), what was started is closed again, so a
        server run in process (``client.serve``, tests) keeps no store or task behind."""
        self.gateway = gateway = await build_gateway(self.prepared)
        self._started = True
        try:
            watcher = follow_parent()
            if watcher is not None:
                self._watchers.append(watcher)
            self.batches = batches = Batches(gateway)
            batches.start()
            gateway.metrics.watch_batches(batches.runner, batches.relay)
            if await gateway.auth.is_open():
                self._check_open(gateway.settings.host)
        except BaseException:
            self._started = False
            await self.shutdown()
            self.batches = None
            raise
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
        from tiergate.gateway.auth import is_loopback
        from tiergate.server.addresses import non_loopback

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
            if not await auth.is_open():
                return
            exposed = non_loopback()
            if exposed:
                logger.error("start-up refused: %s", open_refusal(exposed[0]))
                os.kill(os.getpid(), signal.SIGTERM)
                return

    async def shutdown(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        if self.batches is not None:  # items in flight finish (or go back) before the log closes
            await self.batches.aclose()
        await self.gateway.aclose()
