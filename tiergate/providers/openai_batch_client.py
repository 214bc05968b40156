"""OpenAI's Files and Batch APIs (``ProviderBatches``): the requests go up as a JSON Lines
file (``purpose=batch``), a batch runs it against ``/v1/chat/completions``, and the answers
come back as an output file and an error file. Any OpenAI-compatible provider that implements
these endpoints works the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pyreqwest.multipart import FormBuilder, PartBuilder

from tiergate.providers.base import Deployment
from tiergate.providers.batch_clients import (
    BatchClient,
    BatchLine,
    UpstreamBatch,
    batch_id_of,
    json_lines,
)
from tiergate.wire.openai import FORMAT as OPENAI

__all__ = ["OpenAIBatchesAPI"]

_ENDPOINT = "/v1/chat/completions"
_ENDED = ("completed", "failed", "expired", "cancelled")
# Statuses that are the request's own fault: its result, as live. Others (429, 5xx) are the
# provider's, worth a live try.
_FINAL = (400, 401, 403, 404, 413, 422)


class OpenAIBatchesAPI(BatchClient):
    wire = OPENAI  # paths below the deployment's base URL, which ends in /v1

    async def create(
        self, deployment: Deployment, requests: Sequence[tuple[str, dict[str, Any]]]
    ) -> UpstreamBatch:
        content = b"".join(
            orjson.dumps({"custom_id": cid, "method": "POST", "url": _ENDPOINT, "body": params})
            + b"\n"
            for cid, params in requests
        )
        form = (
            FormBuilder()
            .text("purpose", "batch")
            .part(
                "file",
                PartBuilder.from_bytes(content)
                .file_name("tiergate-batch.jsonl")
                .mime("application/jsonl"),
            )
        )
        uploaded = await self._call("POST", deployment, self._url(deployment, "/files"), form)
        body = orjson.dumps(
            {
                "input_file_id": batch_id_of(uploaded, deployment),
                "endpoint": _ENDPOINT,
                "completion_window": "24h",
            }
        )
        return self._batch(
            await self._call("POST", deployment, self._url(deployment, "/batches"), body),
            deployment,
        )

    async def retrieve(self, deployment: Deployment, batch_id: str) -> UpstreamBatch:
        url = self._url(deployment, f"/batches/{batch_id}")
        return self._batch(await self._call("GET", deployment, url), deployment)

    async def cancel(self, deployment: Deployment, batch_id: str) -> None:
        await self._call(
            "POST", deployment, self._url(deployment, f"/batches/{batch_id}/cancel"), b""
        )

    async def results(self, deployment: Deployment, batch: UpstreamBatch) -> list[BatchLine]:
        lines: list[BatchLine] = []
        for file_id in batch.results:
            content = await self._raw(
                "GET", deployment, self._url(deployment, f"/files/{file_id}/content")
            )
            lines.extend(_line(entry) for entry in json_lines(content, deployment))
        return lines

    async def discard(self, deployment: Deployment, batch_id: str) -> None:
        """Delete the batch's input, output and error files: OpenAI keeps files until they
        are deleted, and they count against the organisation's storage."""
        url = self._url(deployment, f"/batches/{batch_id}")
        body = await self._call("GET", deployment, url)
        for field in ("input_file_id", "output_file_id", "error_file_id"):
            file_id = body.get(field) if isinstance(body, dict) else None
            if isinstance(file_id, str):
                await self._call("DELETE", deployment, self._url(deployment, f"/files/{file_id}"))

    @staticmethod
    def _batch(body: Any, deployment: Deployment) -> UpstreamBatch:
        batch_id = batch_id_of(body, deployment)
        ended = body.get("status") in _ENDED
        files = (body.get("output_file_id"), body.get("error_file_id"))
        return UpstreamBatch(batch_id, ended, tuple(f for f in files if isinstance(f, str)))


def _line(entry: Mapping[str, Any]) -> BatchLine:
    custom_id = str(entry.get("custom_id"))
    response = entry.get("response")
    if isinstance(response, dict):
        status = response.get("status_code")
        status = status if isinstance(status, int) else 500
        if status == 200:
            return BatchLine(custom_id, "succeeded", response.get("body"))
        return BatchLine(custom_id, "errored", response.get("body"), status, status in _FINAL)
    error = entry.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if code == "batch_expired":
        return BatchLine(custom_id, "expired")
    if code == "batch_cancelled":
        return BatchLine(custom_id, "canceled")
    return BatchLine(custom_id, "errored", {"error": error}, 500, False)
