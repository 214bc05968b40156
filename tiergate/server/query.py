"""Query strings: the last value of each parameter, and list endpoints' page size."""

from __future__ import annotations

from urllib.parse import parse_qs

from tiergate.errors import InvalidRequest
from tiergate.server.responses import Scope

__all__ = ["page_limit", "query_params"]


def query_params(scope: Scope) -> dict[str, str]:
    """Each parameter's last value (``?a=1&a=2`` is ``a=2``, as most frameworks read it)."""
    return {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}


def page_limit(query: dict[str, str], default: int = 20, most: int = 1000) -> int:
    """``limit``, as the providers' list endpoints take it: 1 to ``most``."""
    try:
        limit = int(query.get("limit", default))
    except ValueError:
        limit = 0
    if not 1 <= limit <= most:
        raise InvalidRequest(f"limit: must be an integer from 1 to {most}", param="limit")
    return limit
