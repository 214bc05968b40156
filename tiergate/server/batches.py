"""Batch jobs over HTTP: what both doors share.

Anthropic's Message Batches (``server/batch_anthropic.py``) and OpenAI's Batch and Files APIs
(``server/batch_openai.py``) both call the same ``gateway/batch_items.py: Batches``.
"""

from __future__ import annotations

from tiergate.server.responses import Scope, request_headers

__all__ = ["ANTHROPIC_PREFIX", "base_url"]

# Anthropic's Message Batches path: a batch's ``results_url`` names it.
ANTHROPIC_PREFIX = "/v1/messages/batches"


def base_url(scope: Scope) -> str:
    """This gateway's address as the caller reached it, for absolute URLs in answers (as the
    providers give them; SDKs fetch them as is). Behind a proxy the forwarded scheme and host
    win over the ones the gateway saw."""
    headers = request_headers(scope)
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}{scope.get('root_path', '')}"
