"""Query strings: the last value of each parameter, and list endpoints' page size."""

from __future__ import annotations

from urllib.parse import parse_qs

from tiergate.errors import InvalidRequest
from tiergate.server.responses import Scope
from tiergate.wire.ids import check_text

__all__ = ["page_limit", "query_params"]


def query_params(scope: Scope) -> dict[str, str]:
    """Each parameter's last value (``?a=1&a=2`` is ``a=2``, as most frameworks read it).
    A NUL anywhere is a 400: the values become store filters and ids, which cannot hold one."""
    raw = scope.get("query_string", b"").decode("latin-1")
    params = {k: v[-1] for k, v in parse_qs(raw).items()}
    for key, value in params.items():
        check_text(key, "query")
        check_text(value, key)
    return params


def page_limit(query: dict[str, str], default: int = 20, most: int = 1000) -> int:
    """``limit``, as the providers' list endpoints take it: 1 to ``most``."""
    try:
        limit = int(query.get("limit", default))
    except ValueError:
        limit = 0
    if not 1 <= limit <= most:
        raise InvalidRequest(f"limit: must be an integer from 1 to {most}", param="limit")
    return limit
