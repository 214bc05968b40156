"""The ASGI application: routing of paths to handlers, errors in the caller's format, lifespan.

A plain ASGI callable rather than a web framework: the gateway has a handful of fixed paths and
sits on every request, so dispatch is one dict lookup and no middleware stack runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from tiergate.errors import GatewayError, InternalError, NotFound
from tiergate.server import endpoints
from tiergate.server.auth import OPEN, Principal
from tiergate.server.chat import handle_chat, new_request_id
from tiergate.server.gateway import Gateway
from tiergate.server.openapi import openapi_document
from tiergate.server.record import RequestTrace
from tiergate.server.responses import (
    ClientGone,
    Message,
    Receive,
    Scope,
    Send,
    read_body,
    request_headers,
    send_bytes,
    send_json,
)
from tiergate.wire.format import WireFormat

logger = logging.getLogger("tiergate")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class App:
    def __init__(self, gateway: Gateway) -> None:
        from tiergate.wire.anthropic import FORMAT as ANTHROPIC
        from tiergate.wire.openai import FORMAT as OPENAI

        self.gateway = gateway
        self._openai: WireFormat = OPENAI
        self._anthropic: WireFormat = ANTHROPIC
        self._chat: dict[str, WireFormat] = {
            "/v1/chat/completions": OPENAI,
            "/chat/completions": OPENAI,
            "/v1/messages": ANTHROPIC,
        }
        self._get: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
            "/health": lambda scope, send: endpoints.health(self.gateway, send),
            "/v1/models": lambda scope, send: endpoints.models(self.gateway, scope, send),
            "/models": lambda scope, send: endpoints.models(self.gateway, scope, send),
            "/openapi.json": lambda scope, send: send_json(send, 200, openapi_document()),
            "/dashboard": lambda scope, send: endpoints.dashboard(send),
            "/metrics": lambda scope, send: endpoints.metrics(self.gateway, send),
            "/v1/tiergate/report": lambda scope, send: endpoints.report(self.gateway, scope, send),
        }
        self.on_finish: Callable[[RequestTrace], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        wire = self._chat.get(path)
        if wire is not None and method == "POST":
            await self._chat_request(wire, scope, receive, send)
            return
        wire = self._anthropic if path.startswith("/v1/messages") else self._openai
        try:
            if method == "POST" and path == "/v1/messages/count_tokens":
                body = await read_body(receive, self.gateway.settings.limits.max_body_bytes)
                await endpoints.count_tokens(self.gateway, body, send)
                return
            getter = self._get.get(path)
            if getter is not None and method in ("GET", "HEAD"):
                await getter(scope, send)
                return
            if wire is not None and (getter is not None or path in self._chat):
                raise GatewayError(f"method {method} is not allowed on {path}", status=405)
            raise NotFound(f"no such endpoint: {method} {path}")
        except ClientGone:
            return
        except GatewayError as error:
            await self._send_error(wire, error, send, {})
        except Exception:
            logger.exception("unhandled error on %s %s", method, path)
            await self._send_error(wire, InternalError("internal error"), send, {})

    async def _chat_request(
        self, wire: WireFormat, scope: Scope, receive: Receive, send: Send
    ) -> None:
        trace = RequestTrace(new_request_id(), wire.name, on_finish=self.on_finish)
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            headers = request_headers(scope)
            principal = await self.authenticate(headers)
            trace.principal = principal
            body = await read_body(receive, self.gateway.settings.limits.max_body_bytes)
            await handle_chat(
                self.gateway, wire, trace, body, headers, principal, receive, tracked_send
            )
        except ClientGone:
            trace.finish(self.gateway.accountant, status=499)
        except GatewayError as error:
            trace.finish(self.gateway.accountant, status=error.status, error=error)
            if not started:
                await self._send_error(
                    wire, error, send, {"x-tiergate-request-id": trace.request_id}
                )
        except Exception:
            logger.exception("unhandled error in request %s", trace.request_id)
            internal = InternalError(f"internal error (request id {trace.request_id})")
            trace.finish(self.gateway.accountant, status=500, error=internal)
            if not started:
                await self._send_error(
                    wire, internal, send, {"x-tiergate-request-id": trace.request_id}
                )

    async def authenticate(self, headers: dict[str, str]) -> Principal:
        return OPEN

    async def _send_error(
        self, wire: WireFormat, error: GatewayError, send: Send, extra: dict[str, str]
    ) -> None:
        status, headers, body = wire.encode_error(error)
        headers = {**headers, **extra}
        await send_bytes(send, status, body, headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        from tiergate.server.recording import Recorder

        await self.gateway.open_store()
        self.on_finish = Recorder(
            self.gateway.log, self.gateway.metrics, self.gateway.settings.log.bodies
        )

    async def shutdown(self) -> None:
        await self.gateway.aclose()
