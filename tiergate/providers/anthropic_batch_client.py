"""Anthropic's Message Batches API (``ProviderBatches``): one POST with every request, a
status to poll, and the results as JSON Lines at the batch's ``results_url``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tiergate.providers.base import Deployment
from tiergate.providers.batch_clients import (
    BatchClient,
    BatchLine,
    UpstreamBatch,
    batch_id_of,
    json_lines,
)
from tiergate.wire.anthropic import FORMAT as ANTHROPIC

__all__ = ["MessageBatchesAPI"]

_KINDS = ("succeeded", "errored", "canceled", "expired")


class MessageBatchesAPI(BatchClient):
    wire = ANTHROPIC
    path = "/v1/messages/batches"

    async def create(
        self, deployment: Deployment, requests: Sequence[tuple[str, dict[str, Any]]]
    ) -> UpstreamBatch:
        body = orjson.dumps(
            {"requests": [{"custom_id": cid, "params": params} for cid, params in requests]}
        )
        answer = await self._call("POST", deployment, self._url(deployment), body)
        return self._batch(answer, deployment)

    async def retrieve(self, deployment: Deployment, batch_id: str) -> UpstreamBatch:
        url = self._url(deployment, f"/{batch_id}")
        return self._batch(await self._call("GET", deployment, url), deployment)

    async def cancel(self, deployment: Deployment, batch_id: str) -> None:
        await self._call("POST", deployment, self._url(deployment, f"/{batch_id}/cancel"), b"")

    async def discard(self, deployment: Deployment, batch_id: str) -> None:
        """Delete the ended batch, results included (Anthropic would keep them 29 days)."""
        await self._call("DELETE", deployment, self._url(deployment, f"/{batch_id}"))

    async def results(self, deployment: Deployment, batch: UpstreamBatch) -> list[BatchLine]:
        lines: list[BatchLine] = []
        for url in batch.results:
            content = await self._raw("GET", deployment, url)
            for entry in json_lines(content, deployment):
                result = entry.get("result")
                kind = result.get("type") if isinstance(result, dict) else None
                if kind not in _KINDS or not isinstance(result, dict):
                    continue
                lines.append(_line(str(entry.get("custom_id")), kind, result))
        return lines

    @staticmethod
    def _batch(body: Any, deployment: Deployment) -> UpstreamBatch:
        batch_id = batch_id_of(body, deployment)
        url = body.get("results_url")
        ended = body.get("processing_status") == "ended"
        return UpstreamBatch(batch_id, ended, (url,) if ended and isinstance(url, str) else ())


def _line(custom_id: str, kind: str, result: dict[str, Any]) -> BatchLine:
    if kind == "succeeded":
        return BatchLine(custom_id, "succeeded", result.get("message"))
    if kind == "errored":
        error = result.get("error")
        inner = error.get("error") if isinstance(error, dict) else None
        error_type = inner.get("type") if isinstance(inner, dict) else None
        # Only a request's own fault is its result; the provider's (overloaded, api_error)
        # is worth a live try.
        final = error_type == "invalid_request_error"
        return BatchLine(custom_id, "errored", error, 400 if final else 500, final)
    return BatchLine(custom_id, "canceled" if kind == "canceled" else "expired")
