"""OpenAI's Files and Batch APIs (``ProviderBatches``): the requests go up as a JSON Lines
file (``purpose=batch``), a batch runs it against ``/v1/chat/completions``, and the answers
come back as an output file and an error file. Any OpenAI-compatible provider that implements
these endpoints works the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from tiergate.providers.base import Deployment
from tiergate.providers.batch_api import (
    BatchLine,
    UpstreamBatch,
    batch_id_of,
    json_lines,
    json_of,
    read_body,
)
from tiergate.providers.transport import USER_AGENT, UpstreamSession
from tiergate.wire.openai import FORMAT as OPENAI

__all__ = ["OpenAIBatchesAPI"]

_ENDPOINT = "/v1/chat/completions"
_ENDED = ("completed", "failed", "expired", "cancelled")
# Statuses that are the request's own fault: its result, as live. Others (429, 5xx) are the
# provider's, worth a live try.
_FINAL = (400, 401, 403, 404, 413, 422)


class OpenAIBatchesAPI:
    def __init__(self, session: UpstreamSession) -> None:
        self._session = session

    @staticmethod
    def _headers(deployment: Deployment, content_type: str | None) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT}
        if content_type is not None:  # a form sets its own (with the multipart boundary)
            headers["content-type"] = content_type
        headers.update(OPENAI.auth_headers(deployment.api_key))
        headers.update(deployment.headers)
        return headers

    @staticmethod
    def _url(deployment: Deployment, tail: str) -> str:
        return f"{(deployment.base_url or '').rstrip('/')}{tail}"

    async def create(
        self, deployment: Deployment, requests: Sequence[tuple[str, dict[str, Any]]]
    ) -> UpstreamBatch:
        content = b"".join(
            orjson.dumps({"custom_id": cid, "method": "POST", "url": _ENDPOINT, "body": params})
            + b"\n"
            for cid, params in requests
        )
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field(
            "file", content, filename="tiergate-batch.jsonl", content_type="application/jsonl"
        )
        uploaded = await self._call("POST", deployment, "/files", form)
        body = orjson.dumps(
            {"input_file_id": batch_id_of(uploaded, deployment), "endpoint": _ENDPOINT,
             "completion_window": "24h"}
        )  # fmt: skip
        return self._batch(await self._call("POST", deployment, "/batches", body), deployment)

    async def retrieve(self, deployment: Deployment, batch_id: str) -> UpstreamBatch:
        return self._batch(await self._call("GET", deployment, f"/batches/{batch_id}"),
                           deployment)  # fmt: skip

    async def cancel(self, deployment: Deployment, batch_id: str) -> None:
        await self._call("POST", deployment, f"/batches/{batch_id}/cancel", b"")

    async def results(self, deployment: Deployment, batch: UpstreamBatch) -> list[BatchLine]:
        lines: list[BatchLine] = []
        for file_id in batch.results:
            content = await self._raw("GET", deployment, f"/files/{file_id}/content")
            lines.extend(_line(entry) for entry in json_lines(content, deployment))
        return lines

    @staticmethod
    def _batch(body: Any, deployment: Deployment) -> UpstreamBatch:
        batch_id = batch_id_of(body, deployment)
        ended = body.get("status") in _ENDED
        files = (body.get("output_file_id"), body.get("error_file_id"))
        return UpstreamBatch(batch_id, ended, tuple(f for f in files if isinstance(f, str)))

    async def _call(
        self, method: str, deployment: Deployment, tail: str,
        body: bytes | aiohttp.FormData | None = None,
    ) -> Any:  # fmt: skip
        return json_of(await self._raw(method, deployment, tail, body), deployment)

    async def _raw(
        self, method: str, deployment: Deployment, tail: str,
        body: bytes | aiohttp.FormData | None = None,
    ) -> bytes:  # fmt: skip
        content_type = "application/json" if isinstance(body, bytes) else None
        response = await self._session.request(
            method, self._url(deployment, tail), self._headers(deployment, content_type), body,
            deployment.timeout, deployment.name,
        )  # fmt: skip
        return await read_body(response, deployment, OPENAI)


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
