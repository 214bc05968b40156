"""Prompt caching done for the user: ``cache_control`` breakpoints on the stable prefix.

Anthropic caches a prompt prefix only where a request marks it (up to 4 ``cache_control``
breakpoints), renders the prefix in the order tools -> system -> messages, requires entries
with the 1-hour TTL to come before 5-minute ones, and silently skips caching for a prefix
shorter than the model's minimum cacheable length (no error; billed as plain input). So:

1. Only Anthropic models with ``prompt_caching`` are touched; any other request is returned as
   is (OpenAI and Gemini cache automatically, with no markers).
2. A request that already sets any breakpoint (or Anthropic's top-level automatic
   ``cache_control``) is left alone: the caller has chosen.
3. Candidate breakpoints, in prefix order, at most ``MAX_BREAKPOINTS`` in all:
   - the last tool definition        (``ttl``: the tool list rarely changes)
   - the last system block           (``ttl``)
   - the end of the conversation before the final user turn  (5m: grows every turn)
   - in the final user message, the block before its last one, when it has several: a long
     document sent ahead of a question (5m)
   Conversation breakpoints always use the 5-minute TTL, so with ``ttl="1h"`` the 1-hour
   entries come first as the API requires.
4. A candidate whose prefix (everything up to and including its block) is estimated below the
   model's ``min_cacheable_tokens`` is skipped: it would not be cached, and tiergate does not
   pretend it is. Estimates use ``tiergate.tokens`` (rates by script), so a prefix
   within a few percent of the minimum may land on either side; a wrong guess upward costs
   nothing (the provider skips it), a wrong guess downward loses one cache entry.

The request is not mutated; changed blocks are copied into a new ``ChatRequest``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from tiergate.catalog.models import ModelInfo
from tiergate.tokens import (
    MESSAGE_OVERHEAD,
    TOOL_OVERHEAD,
    TOOL_SYSTEM_PROMPT,
    image_tokens,
    text_units,
    tokens_for_units,
)
from tiergate.types import (
    ChatRequest,
    ContentBlock,
    ImageBlock,
    Message,
    OpaqueBlock,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)

MAX_BREAKPOINTS = 4
DEFAULT_MIN_CACHEABLE = 1024  # Anthropic's lowest documented minimum, for models that omit it
Ttl = Literal["5m", "1h"]
Where = Literal["tools", "system", "history", "leading_context"]


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """One placed breakpoint: where, the estimated tokens of the prefix it caches, its TTL.
    ``index`` is the tool / system block / message index; ``block`` the block in the message."""

    where: Where
    index: int
    block: int | None
    prefix_tokens: int
    ttl: Ttl


def _control(ttl: Ttl) -> dict[str, Any]:
    # The 5-minute TTL is the API default; leaving "ttl" out keeps older API versions happy.
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}


def count_breakpoints(req: ChatRequest) -> int:
    """Breakpoints the request sets itself (top-level automatic caching counts as one)."""
    count = sum(1 for tool in req.tools if tool.cache_control is not None)
    count += sum(1 for block in req.system if block.cache_control is not None)
    for message in req.messages:
        for block in message.content:
            if getattr(block, "cache_control", None) is not None:
                count += 1
            if isinstance(block, ToolResultBlock):
                count += sum(
                    1 for part in block.content if getattr(part, "cache_control", None) is not None
                )
    if "cache_control" in req.extra:
        count += 1
    return count


def _tokens(units: int, fixed: int) -> int:
    return fixed + tokens_for_units(units)


def _block_cost(block: ContentBlock) -> tuple[int, int]:
    """(text units, fixed tokens) a content block adds to the prefix."""
    if isinstance(block, TextBlock):
        return text_units(block.text), 0
    if isinstance(block, ImageBlock):
        return 0, image_tokens(block)
    if isinstance(block, ToolUseBlock):
        return text_units(block.name) + len(orjson.dumps(block.input)), 0
    if isinstance(block, ToolResultBlock):
        chars = fixed = 0
        for part in block.content:
            if isinstance(part, TextBlock):
                chars += text_units(part.text)
            elif isinstance(part, ImageBlock):
                fixed += image_tokens(part)
        return chars, fixed
    if isinstance(block, ThinkingBlock):
        return text_units(block.thinking), 0
    return 0, 0


def _tool_chars(tool: Tool) -> int:
    return (
        text_units(tool.name)
        + text_units(tool.description or "")
        + len(orjson.dumps(tool.input_schema))
    )


def plan_cache_breakpoints(req: ChatRequest, model: ModelInfo, ttl: Ttl = "5m") -> list[Breakpoint]:
    """Where ``apply_cache_breakpoints`` would put breakpoints (empty: leave the request)."""
    if model.provider != "anthropic" or "prompt_caching" not in model.capabilities:
        return []
    if count_breakpoints(req):
        return []
    minimum = model.min_cacheable_tokens or DEFAULT_MIN_CACHEABLE
    candidates: list[Breakpoint] = []
    chars, fixed = 0, 0
    if req.tools:
        fixed += TOOL_SYSTEM_PROMPT + TOOL_OVERHEAD * len(req.tools)
        chars += sum(_tool_chars(tool) for tool in req.tools)
        candidates.append(Breakpoint("tools", len(req.tools) - 1, None, _tokens(chars, fixed), ttl))
    if req.system:
        chars += sum(text_units(block.text) for block in req.system)
        candidates.append(
            Breakpoint("system", len(req.system) - 1, None, _tokens(chars, fixed), ttl)
        )
    last_user = max((i for i, m in enumerate(req.messages) if m.role == "user"), default=-1)
    for index, message in enumerate(req.messages):
        fixed += MESSAGE_OVERHEAD
        history_end = index == last_user - 1
        for position, block in enumerate(message.content):
            block_chars, block_fixed = _block_cost(block)
            chars += block_chars
            fixed += block_fixed
            if isinstance(block, ThinkingBlock | OpaqueBlock):
                continue  # thinking blocks cannot carry cache_control; opaque ones: as given
            tokens = _tokens(chars, fixed)
            if history_end:
                # Keep overwriting: the last cacheable block of the message wins.
                if candidates and candidates[-1].where == "history":
                    candidates.pop()
                candidates.append(Breakpoint("history", index, position, tokens, "5m"))
            elif index == last_user and position == len(message.content) - 2:
                candidates.append(Breakpoint("leading_context", index, position, tokens, "5m"))
    placed = [bp for bp in candidates if bp.prefix_tokens >= minimum]
    return placed[:MAX_BREAKPOINTS]


def apply_cache_breakpoints(req: ChatRequest, model: ModelInfo, ttl: Ttl = "5m") -> ChatRequest:
    """``req`` with breakpoints on its stable prefix (see the module docstring for the rules);
    ``req`` itself when nothing applies."""
    plan = plan_cache_breakpoints(req, model, ttl)
    if not plan:
        return req
    tools = list(req.tools)
    system = list(req.system)
    messages = list(req.messages)
    for bp in plan:
        control = _control(bp.ttl)
        if bp.where == "tools":
            tools[bp.index] = dataclasses.replace(tools[bp.index], cache_control=control)
        elif bp.where == "system":
            system[bp.index] = dataclasses.replace(system[bp.index], cache_control=control)
        else:
            assert bp.block is not None
            message = messages[bp.index]
            content = list(message.content)
            content[bp.block] = dataclasses.replace(content[bp.block], cache_control=control)  # type: ignore[arg-type,call-arg]
            messages[bp.index] = Message(message.role, content, message.extra)
    return dataclasses.replace(req, tools=tools, system=system, messages=messages)
