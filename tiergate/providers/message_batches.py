"""Anthropic's Message Batches API, the upstream side: create, retrieve, cancel, results.

Batch jobs' items whose deployment has ``batch_api`` are sent here in bulk instead of one
``/v1/messages`` call each (``tiergate/batch/relay.py``): the provider answers within 24 hours
at half the price. Requests and answers are the Messages API's own JSON, so the Anthropic wire
format encodes the one and decodes the other; this module only moves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tiergate.errors import ProviderError
from tiergate.providers.base import Deployment
from tiergate.providers.transport import (
    TRANSPORT_ERRORS,
    USER_AGENT,
    UpstreamSession,
    as_provider_error,
)
from tiergate.wire.anthropic import FORMAT as ANTHROPIC

__all__ = ["MessageBatchesAPI", "UpstreamBatch"]

_PATH = "/v1/messages/batches"


@dataclass(frozen=True, slots=True)
class UpstreamBatch:
    id: str
    processing_status: str  # in_progress | canceling | ended
    results_url: str | None


def _batch(body: Any, provider: str) -> UpstreamBatch:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProviderError(
            f"upstream {provider} answered a batch call without a batch", status=502,
            provider=provider,
        )  # fmt: skip
    url = body.get("results_url")
    return UpstreamBatch(
        body["id"], str(body.get("processing_status")), url if isinstance(url, str) else None
    )


def _json(content: bytes, deployment: Deployment) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(
            f"upstream {deployment.name} sent a body that is not JSON", status=502,
            provider=deployment.name,
        ) from exc  # fmt: skip


class MessageBatchesAPI:
    def __init__(self, session: UpstreamSession) -> None:
        self._session = session

    @staticmethod
    def _headers(deployment: Deployment) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        headers.update(ANTHROPIC.auth_headers(deployment.api_key))
        headers.update(deployment.headers)
        return headers

    @staticmethod
    def _url(deployment: Deployment, tail: str = "") -> str:
        return f"{(deployment.base_url or '').rstrip('/')}{_PATH}{tail}"

    async def create(
        self, deployment: Deployment, requests: Sequence[tuple[str, dict[str, Any]]]
    ) -> UpstreamBatch:
        """Send ``requests`` ((custom_id, Messages API params)) as one provider batch."""
        body = orjson.dumps(
            {"requests": [{"custom_id": cid, "params": params} for cid, params in requests]}
        )
        return _batch(await self._post(deployment, self._url(deployment), body), deployment.name)

    async def retrieve(self, deployment: Deployment, batch_id: str) -> UpstreamBatch:
        url = self._url(deployment, f"/{batch_id}")
        return _batch(_json(await self._get(deployment, url), deployment), deployment.name)

    async def cancel(self, deployment: Deployment, batch_id: str) -> UpstreamBatch:
        url = self._url(deployment, f"/{batch_id}/cancel")
        return _batch(await self._post(deployment, url, b""), deployment.name)

    async def results(self, deployment: Deployment, results_url: str) -> list[dict[str, Any]]:
        """The ended batch's result lines (JSON Lines: ``custom_id`` and ``result``)."""
        content = await self._get(deployment, results_url)
        lines = []
        for line in content.splitlines():
            if line.strip():
                try:
                    lines.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise ProviderError(
                        f"upstream {deployment.name} sent a batch result that is not JSON",
                        status=502, provider=deployment.name,
                    ) from exc  # fmt: skip
        return lines

    async def _post(self, deployment: Deployment, url: str, body: bytes) -> Any:
        response = await self._session.post(
            url, self._headers(deployment), body, deployment.timeout, deployment.name
        )
        return _json(await self._read(response, deployment), deployment)

    async def _get(self, deployment: Deployment, url: str) -> bytes:
        response = await self._session.get(
            url, self._headers(deployment), deployment.timeout, deployment.name
        )
        return await self._read(response, deployment)

    @staticmethod
    async def _read(response: Any, deployment: Deployment) -> bytes:
        try:
            content: bytes = await response.read()
        except TRANSPORT_ERRORS as exc:
            raise as_provider_error(exc, deployment.name) from exc
        finally:
            response.release()
        if response.status >= 400:
            raise ANTHROPIC.decode_error(
                response.status, response.headers, content, deployment.name
            )
        return content
