"""Small builders shared by the routing tests: a catalog, deployments, requests, responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tiergate.catalog import Catalog, load_catalog
from tiergate.providers.base import Deployment
from tiergate.routing.plan import Policy, RoutingState
from tiergate.routing.routes import build_policies
from tiergate.routing.validators import JudgeClient
from tiergate.types import (
    ChatRequest,
    ChatResponse,
    ImageBlock,
    Message,
    TextBlock,
    Tool,
)

CATALOG: Catalog = load_catalog()
SERVED = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "local/smollm2-135m")


def deployments(models: Iterable[str] = SERVED) -> dict[str, tuple[Deployment, ...]]:
    """One fake deployment per model (never called: policies only read them)."""
    return {
        m: (Deployment(f"dep-{m}", m, "anthropic", m, "http://127.0.0.1:9", "key"),) for m in models
    }


def policies(
    routes: Mapping[str, Mapping[str, Any]],
    served: Iterable[str] = SERVED,
    judge: JudgeClient | None = None,
) -> tuple[dict[str, Policy], RoutingState]:
    table = deployments(served)
    return build_policies(routes, CATALOG, table, judge), RoutingState(table)


def ask(
    text: str = "hello",
    *,
    model: str = "auto",
    task: str | None = None,
    image: bool = False,
    tools: bool = False,
    max_tokens: int | None = 256,
    system: str | None = None,
) -> ChatRequest:
    content: list[Any] = [TextBlock(text)]
    if image:
        content.append(ImageBlock("base64", media_type="image/png", data="iVBORw0KGgo="))
    return ChatRequest(
        model=model,
        messages=[Message("user", content)],
        system=[TextBlock(system)] if system else [],
        max_tokens=max_tokens,
        tools=[Tool("lookup", "find a record", {"type": "object"})] if tools else [],
        metadata={"task": task} if task is not None else {},
    )


def answer(text: str, model: str = "claude-haiku-4-5") -> ChatResponse:
    return ChatResponse(id="msg_test", model=model, content=[TextBlock(text)])
