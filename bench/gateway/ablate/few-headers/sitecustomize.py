"""Ablation (bench only): tiergate answering with one ``x-tiergate-*`` header instead of eight.

``ab.py --variant few-headers``: every answer still carries its request id, but not the
model, deployment, cost, attempts, tier, route and reason headers, so the difference is what
uvicorn and the client spend on those headers.
"""

from tiergate.gateway.trace import RequestTrace


def _request_id_only(self: RequestTrace) -> list[tuple[bytes, bytes]]:
    return [(b"x-tiergate-request-id", self.request_id.encode())]


RequestTrace.response_headers = _request_id_only  # type: ignore[method-assign]
