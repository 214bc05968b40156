"""Providers' own batch APIs, the upstream side, behind one small protocol.

Batch jobs' items whose deployment has ``batch_api`` are sent to the provider in bulk
(``tiergate/batch/upstream_relay.py``) instead of one call each: the provider answers
within 24 hours at its batch price. Each provider's API (Anthropic's Message Batches:
``anthropic_batch_client.py``; OpenAI's Files and Batch APIs: ``openai_batch_client.py``) is
mapped to these few calls and to one shape of result line, so the relay and the server know no
provider's batch format. Requests and answers stay in the provider's own JSON: its wire format
encodes the one and decodes the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from tiergate.errors import ProviderError
from tiergate.providers.base import Deployment
from tiergate.providers.transport import Body, UpstreamSession
from tiergate.wire.format import WireFormat

__all__ = [
    "BatchClient",
    "BatchLine",
    "ProviderBatches",
    "UpstreamBatch",
    "batch_id_of",
    "json_lines",
    "json_of",
]


@dataclass(frozen=True, slots=True)
class UpstreamBatch:
    """A provider batch as last seen: whether it has ended, and where its results are (the
    provider's own locators: Anthropic's results URL, OpenAI's output and error file ids)."""

    id: str
    ended: bool
    results: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One request's outcome in a provider batch.

    ``succeeded``: ``body`` is the answer (the provider's response JSON). ``errored``:
    ``status`` and ``body`` are the error as the live API would have answered it, and
    ``final`` says whether it is the request's own fault (an invalid request: its result) or
    the provider's (overloaded, internal: worth running live). ``canceled`` / ``expired``:
    the provider did not run it."""

    custom_id: str
    kind: Literal["succeeded", "errored", "canceled", "expired"]
    body: Any = None
    status: int = 200
    final: bool = False


class ProviderBatches(Protocol):
    @property
    def wire(self) -> WireFormat:
        """The provider's wire format: it encodes the requests, decodes answers and errors."""
        ...

    async def create(
        self, deployment: Deployment, requests: Sequence[tuple[str, dict[str, Any]]]
    ) -> UpstreamBatch:
        """Send ``requests`` ((custom_id, the live API's request JSON)) as one batch."""
        ...

    async def retrieve(self, deployment: Deployment, batch_id: str) -> UpstreamBatch: ...

    async def cancel(self, deployment: Deployment, batch_id: str) -> None: ...

    async def results(self, deployment: Deployment, batch: UpstreamBatch) -> list[BatchLine]:
        """An ended batch's outcomes (requests it has no line for are left out)."""
        ...

    async def discard(self, deployment: Deployment, batch_id: str) -> None:
        """Free what an ended batch keeps at the provider once its answers are stored (the
        prompts and answers should not outlive their use in the team's provider account)."""
        ...


class BatchClient:
    """The HTTP side both providers' batch APIs share: the pooled session, the deployment's
    key and headers, and HTTP errors as the provider's ``wire`` maps them."""

    wire: WireFormat
    path = ""  # where the API lives below a deployment's base URL

    def __init__(self, session: UpstreamSession) -> None:
        self._session = session

    def _url(self, deployment: Deployment, tail: str = "") -> str:
        return f"{(deployment.base_url or '').rstrip('/')}{self.path}{tail}"

    def _headers(self, deployment: Deployment, body: Body) -> dict[str, str]:
        headers: dict[str, str] = {}
        if isinstance(body, bytes):  # a form sets its own (with the multipart boundary)
            headers["content-type"] = "application/json"
        headers.update(self.wire.auth_headers(deployment.api_key))
        headers.update(deployment.headers)
        return headers

    async def _raw(self, method: str, deployment: Deployment, url: str, body: Body = None) -> bytes:
        """The response body of one call; an HTTP error raised as ``ProviderError``."""
        status, headers, content = await self._session.fetch(
            method=method,
            url=url,
            headers=self._headers(deployment, body),
            body=body,
            timeout=deployment.timeout,
            provider=deployment.name,
        )
        if status >= 400:
            raise self.wire.decode_error(status, headers, content, deployment.name)
        return content

    async def _call(self, method: str, deployment: Deployment, url: str, body: Body = None) -> Any:
        """``_raw``, parsed as JSON."""
        return json_of(await self._raw(method, deployment, url, body), deployment)


def json_of(content: bytes, deployment: Deployment) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(
            f"upstream {deployment.name} sent a body that is not JSON",
            status=502,
            provider=deployment.name,
        ) from exc


def json_lines(content: bytes, deployment: Deployment) -> list[Mapping[str, Any]]:
    """JSON Lines (a results file), blank lines skipped."""
    return [json_of(line, deployment) for line in content.splitlines() if line.strip()]


def batch_id_of(body: Any, deployment: Deployment) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProviderError(
            f"upstream {deployment.name} answered a batch call without a batch",
            status=502,
            provider=deployment.name,
        )
    return str(body["id"])
