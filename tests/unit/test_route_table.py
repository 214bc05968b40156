"""The route table: one declaration of every endpoint, and the matcher that reads it.

Why: the answers a client gets for a path no route has (404), a method a path does not take
(405, with ``Allow``), a NUL in the path (400) and HEAD must not depend on which module
happens to own the path, as they did when four routers were written by hand.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from tiergate.config import load_settings
from tiergate.errors import InternalError
from tiergate.gateway.auth import OPEN
from tiergate.gateway.factory import prepare
from tiergate.server.app import App
from tiergate.server.routes import Auth, Call, Route, RouteTable
from tiergate.wire.openai import FORMAT as OPENAI


async def _nothing(call: Call) -> None:
    return None


def _route(methods: tuple[str, ...], path: str) -> Route:
    return Route(methods, path, Auth.NONE, OPENAI, _nothing)


def test_fixed_and_parameterised_paths_match_with_their_parameters() -> None:
    table = RouteTable(
        [
            _route(("GET",), "/v1/batches"),
            _route(("GET",), "/v1/batches/{batch_id}"),
            _route(("POST",), "/v1/batches/{batch_id}/cancel"),
            _route(("GET",), "/v1/traces/{trace_id:path}"),
        ]
    )
    found = table.match("GET", "/v1/batches/b_1")
    assert found is not None and found.route is not None
    assert found.route.path == "/v1/batches/{batch_id}" and found.params == {"batch_id": "b_1"}
    cancel = table.match("POST", "/v1/batches/b_1/cancel")
    assert cancel is not None and cancel.params == {"batch_id": "b_1"}
    assert table.match("GET", "/v1/batches/b_1/cancel/x") is None  # one segment, not the rest
    traced = table.match("GET", "/v1/traces/a/b")
    assert traced is not None and traced.params == {"trace_id": "a/b"}
    head = table.match("HEAD", "/v1/batches")
    assert head is not None and head.route is not None  # GET takes HEAD too
    slash = table.match("GET", "/v1/batches/")
    assert slash is not None and slash.route is not None and slash.route.path == "/v1/batches"


def test_a_known_path_with_another_method_is_a_405_naming_the_allowed_ones() -> None:
    table = RouteTable([_route(("GET",), "/a/{x}"), _route(("DELETE",), "/a/{x}")])
    found = table.match("POST", "/a/1")
    assert found is not None and found.route is None
    assert sorted(found.allowed) == ["DELETE", "GET", "HEAD"]
    assert table.match("GET", "/b") is None


def test_two_routes_for_one_method_and_path_are_refused() -> None:
    with pytest.raises(ValueError, match="two routes for GET /a"):
        RouteTable([_route(("GET",), "/a"), _route(("GET", "POST"), "/a")])


def test_the_gateway_table_declares_each_endpoint_once() -> None:
    app = App(prepare(load_settings(None, env={})))
    declared = [(m, r.path) for r in app.routes.routes for m in r.methods]
    assert len(declared) == len(set(declared))
    assert ("POST", "/v1/chat/completions") in declared
    assert ("GET", "/v1/messages/batches/{batch_id}/results") in declared
    admin = {r.auth for r in app.routes.routes if r.path.startswith("/admin/")}
    assert admin == {Auth.ADMIN}


async def _request(app: App, method: str, path: str) -> tuple[int, dict[str, str], Any]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [],
        "query_string": b"",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
    }
    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, orjson.loads(body) if body else None


async def test_unknown_paths_wrong_methods_and_nul_answer_in_the_paths_wire_format() -> None:
    app = App(prepare(load_settings(None, env={})))
    status, _, body = await _request(app, "GET", "/v1/nothing")
    assert status == 404 and body["error"]["type"] == "not_found_error"
    assert "object" not in body  # OpenAI's shape
    status, _, body = await _request(app, "GET", "/v1/messages/nothing")
    assert status == 404 and body["type"] == "error"  # Anthropic's shape
    status, headers, body = await _request(app, "GET", "/v1/chat/completions")
    assert status == 405 and headers["allow"] == "POST"
    status, headers, body = await _request(app, "PUT", "/v1/messages/batches/msgbatch_1")
    assert status == 405 and headers["allow"] == "DELETE, GET, HEAD" and body["type"] == "error"
    status, _, body = await _request(app, "GET", "/v1/batches/b\x00")
    assert status == 400 and "NUL" in body["error"]["message"]
    status, _, body = await _request(app, "GET", "/v1/batches/batch_1")
    assert status == 503  # the store is not open: no batch jobs, whatever the path


async def test_before_start_up_every_route_needing_the_gateway_answers_503() -> None:
    """Without a lifespan (an ASGI server run with it off) no gateway is built: the model
    endpoints and the model list say so in their wire format instead of failing with a 500."""
    app = App(prepare(load_settings(None, env={})))
    status, _, body = await _request(app, "POST", "/v1/chat/completions")
    assert status == 503 and "starting" in body["error"]["message"]
    status, _, body = await _request(app, "POST", "/v1/messages")
    assert status == 503 and body["type"] == "error"
    status, _, body = await _request(app, "GET", "/v1/models")
    assert status == 503
    status, _, body = await _request(app, "GET", "/health")  # no store open yet
    assert status == 503 and body["failing"] == ["store"] and "starting" in str(body)
    status, _, body = await _request(app, "HEAD", "/health")
    assert status == 503


def test_a_route_without_a_caller_refuses_to_read_one() -> None:
    """A handler on an unauthenticated route that reads the caller gets an error, not the
    rights of some default principal (open mode reads every tenant)."""
    call = Call({}, _nothing_receive, _nothing_send)
    with pytest.raises(InternalError):
        _ = call.principal
    call.principal = OPEN
    assert call.principal is OPEN


async def _nothing_receive() -> dict[str, Any]:
    return {}


async def _nothing_send(message: MutableMapping[str, Any]) -> None:
    return None
