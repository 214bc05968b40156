"""Anthropic Messages request body -> ``ChatRequest`` (serving Anthropic-SDK clients)."""

from __future__ import annotations

from typing import Any

from tiergate.errors import InvalidRequest
from tiergate.types import ChatRequest, Message, TextBlock, Tool, ToolChoice
from tiergate.wire.anthropic_blocks import decode_block, fail

_KNOWN = frozenset(
    {
        "model", "messages", "system", "max_tokens", "temperature", "top_p", "top_k",
        "stop_sequences", "stream", "tools", "tool_choice", "metadata", "thinking",
    }
)  # fmt: skip


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("must be a number", key)
    return float(value)


def decode_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise fail("required, a non-empty string", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise fail("required, a non-empty array of messages", "messages")
    messages: list[Message] = []
    for i, item in enumerate(raw_messages):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise fail("must be an object", where)
        role = item.get("role")
        if role not in ("user", "assistant"):
            raise fail(f"unknown role {role!r}; expected user or assistant", f"{where}.role")
        content = item.get("content")
        if isinstance(content, str):
            blocks = [TextBlock(content)]
        elif isinstance(content, list):
            blocks = [decode_block(b, f"{where}.content[{j}]") for j, b in enumerate(content)]
        else:
            raise fail("must be a string or an array of content blocks", f"{where}.content")
        messages.append(Message(role, blocks))
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise fail("required, a positive integer", "max_tokens")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise fail("must be a boolean", "stream")
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise fail("must be an array of strings", "stop_sequences")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise fail("must be an object", "metadata")
    top_k = body.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
        raise fail("must be an integer", "top_k")
    thinking = body.get("thinking")
    if thinking is not None and not isinstance(thinking, dict):
        raise fail("must be an object", "thinking")
    tools, server_tools = _tools(body.get("tools"))
    extra = {k: v for k, v in body.items() if k not in _KNOWN}
    if server_tools:
        extra["server_tools"] = server_tools
    return ChatRequest(
        model=model,
        messages=messages,
        system=_system(body.get("system")),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=top_k,
        stop_sequences=list(stops),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        metadata=dict(metadata),
        stream=stream,
        stream_include_usage=True,
        thinking=thinking,
        extra=extra,
        source_format="anthropic",
    )


def _system(raw: Any) -> list[TextBlock]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [TextBlock(raw)] if raw else []
    if not isinstance(raw, list):
        raise fail("must be a string or an array of text blocks", "system")
    blocks: list[TextBlock] = []
    for i, item in enumerate(raw):
        block = decode_block(item, f"system[{i}]")
        if not isinstance(block, TextBlock):
            raise fail("only text blocks are allowed", f"system[{i}]")
        blocks.append(block)
    return blocks


def _tools(raw: Any) -> tuple[list[Tool], list[dict[str, Any]]]:
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        raise fail("must be an array", "tools")
    tools: list[Tool] = []
    server: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise fail("each tool needs a name", f"tools[{i}]")
        if item.get("type") not in (None, "custom"):
            server.append(item)  # server tools (web search, ...) only an Anthropic upstream runs
            continue
        schema = item.get("input_schema")
        if not isinstance(schema, dict):
            raise fail("required, a JSON Schema object", f"tools[{i}].input_schema")
        cache = item.get("cache_control")
        tools.append(
            Tool(
                item["name"],
                item.get("description"),
                schema,
                cache if isinstance(cache, dict) else None,
            )
        )
    return tools, server


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("auto", "any", "tool", "none"):
        raise fail("type must be auto, any, tool or none", "tool_choice")
    if raw["type"] == "tool" and not isinstance(raw.get("name"), str):
        raise fail("type tool needs a name", "tool_choice.name")
    return ToolChoice(raw["type"], raw.get("name"), bool(raw.get("disable_parallel_tool_use")))
