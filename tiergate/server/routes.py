"""The route table's parts: a route, the authentication it needs, and the matcher.

The table itself is in ``server/app.py`` (``App.route_table``). A path without parameters
is found by one dict lookup, so a chat request costs no more than before; a path with
parameters (``/v1/batches/{batch_id}``) is matched against a handful of compiled patterns.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tiergate.errors import InternalError
from tiergate.gateway.auth import Principal
from tiergate.server.responses import Receive, Scope, Send
from tiergate.wire.format import ErrorFormat

__all__ = ["Auth", "Call", "Endpoint", "Match", "Route", "RouteTable"]


_NO_PARAMETERS: Mapping[str, str] = MappingProxyType({})


class Auth(enum.Enum):
    """Who may call a route, checked before its handler runs."""

    NONE = "none"  # anyone
    METRICS = "metrics"  # the metrics token or the admin key, once keys exist
    KEY = "key"  # any valid key (open mode: anyone on loopback)
    ADMIN = "admin"  # the admin key
    # A model request: the handler authenticates the caller itself, under the request's
    # trace, so that a refusal is logged like any other failed request.
    MODEL = "model"


class Call:
    """One request as a handler sees it: the ASGI triple, who is asking (set once the route's
    ``auth`` let them through), the path's parameters."""

    __slots__ = ("_principal", "params", "receive", "scope", "send")

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        params: Mapping[str, str] = _NO_PARAMETERS,
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self._principal: Principal | None = None
        self.params = params

    @property
    def principal(self) -> Principal:
        """Who is asking. A handler on an ``Auth.NONE`` or ``Auth.METRICS`` route has no
        checked caller: reading it is a bug in the table, refused rather than answered with
        some default principal's rights."""
        if self._principal is None:
            raise InternalError("this route reads its caller but does not authenticate one")
        return self._principal

    @principal.setter
    def principal(self, principal: Principal) -> None:
        self._principal = principal


Endpoint = Callable[[Call], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    """``methods`` on ``path`` (``{name}`` is one path segment, ``{name:path}`` the rest
    of the path, slashes included) run ``handler`` once ``auth`` lets the caller through;
    errors are answered in ``wire``'s shape. A route that takes GET also takes HEAD."""

    methods: tuple[str, ...]
    path: str
    auth: Auth
    wire: ErrorFormat
    handler: Endpoint

    @property
    def accepts(self) -> tuple[str, ...]:
        return (*self.methods, "HEAD") if "GET" in self.methods else self.methods


@dataclass(frozen=True, slots=True)
class Match:
    """What the table found for a request: the route (None: the path exists, not with this
    method, so a 405), the path's parameters, and the path's routes by method."""

    route: Route | None
    params: dict[str, str]
    allowed: dict[str, Route]


_PARAMETER = re.compile(r"\{([a-z_]+)(?::(path))?\}")


def _compiled(path: str) -> re.Pattern[str]:
    pattern, end = "", 0
    for found in _PARAMETER.finditer(path):
        pattern += re.escape(path[end : found.start()])
        pattern += f"(?P<{found[1]}>.+)" if found[2] == "path" else f"(?P<{found[1]}>[^/]+)"
        end = found.end()
    return re.compile(pattern + re.escape(path[end:]))


class RouteTable:
    """Finds the route for a method and path: fixed paths by dict lookup, then the first
    parameterised path that fits, in table order. A trailing slash is ignored, as the
    hand-written routers ignored it."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self.fixed: dict[str, dict[str, Route]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        compiled: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            if _PARAMETER.search(route.path) is None:
                methods = self.fixed.setdefault(route.path, {})
            else:
                methods = compiled.get(route.path) or {}
                if route.path not in compiled:
                    compiled[route.path] = methods
                    self._patterns.append((_compiled(route.path), methods))
            for method in route.accepts:
                if method in methods:
                    raise ValueError(f"two routes for {method} {route.path}")
                methods[method] = route

    def match(self, method: str, path: str) -> Match | None:
        """The route for ``method`` on ``path``; None if no route has that path."""
        found = self._match(method, path)
        if found is None and len(path) > 1 and path.endswith("/"):
            found = self._match(method, path.rstrip("/"))
        return found

    def _match(self, method: str, path: str) -> Match | None:
        methods = self.fixed.get(path)
        if methods is not None:
            return Match(methods.get(method), {}, methods)
        for pattern, methods in self._patterns:
            found = pattern.fullmatch(path)
            if found is not None:
                return Match(methods.get(method), found.groupdict(), methods)
        return None
