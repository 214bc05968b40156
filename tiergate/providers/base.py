"""The one small protocol every provider implements, and the resolved ``Deployment``.

A provider turns a ``ChatRequest`` into an upstream call and back. Which wire format it speaks,
where it lives and which key it uses are data on the ``Deployment`` (principle 1: an
OpenAI-compatible vendor is a config row, not a class).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tiergate.types import ChatRequest, ChatResponse, StreamEvent


@dataclass(frozen=True, slots=True)
class Deployment:
    name: str
    model_id: str  # canonical catalog id
    provider: str  # "anthropic" | "openai" | "local"
    upstream_model: str
    base_url: str | None = None
    api_key: str | None = None
    byok: bool = False
    timeout: float = 120.0
    headers: Mapping[str, str] = field(default_factory=dict)
    # OpenAI wire only: ``max_tokens`` for servers that do not know ``max_completion_tokens``.
    max_tokens_field: str = "max_completion_tokens"
    # Batch jobs' items go through the provider's batch API (``providers/batch_clients.py``).
    batch_api: bool = False


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per-call facts from the client that a provider may need."""

    # The caller's own provider key, used only by ``byok`` deployments.
    caller_key: str | None = None
    # Client headers forwarded upstream (e.g. ``anthropic-beta``), already filtered.
    forward_headers: Mapping[str, str] = field(default_factory=dict)


# Calls the gateway makes on its own account (a judge, a shadow, a rollout's incumbent, a batch
# item): its own provider keys, no caller headers to forward.
OWN_CALL = CallOptions()


class Provider(Protocol):
    async def complete(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> ChatResponse:
        """Raise ``ProviderError`` for any upstream failure."""
        ...

    def stream(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> AsyncIterator[StreamEvent]:
        """Yield core stream events; raise ``ProviderError`` before or during the stream."""
        ...

    async def aclose(self) -> None: ...
