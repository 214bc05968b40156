"""Anthropic Messages request body -> ``ChatRequest`` (serving Anthropic-SDK clients).

Validation mirrors the real API closely enough that a client sees the same class of error
(400 ``invalid_request_error`` naming the field) before any upstream is called. Fields the core
model has no place for (``service_tier``, ``container``, server tools, a tool's
``eager_input_streaming``, a message's per-turn fields, ...) are kept in ``extra`` so that an
Anthropic upstream still receives them. A ``system`` message inside ``messages`` (Anthropic's
mid-conversation system messages) stays in place as a ``system`` ``Message``; the API's own
placement rules are left to the upstream, which knows which models take it.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import InvalidRequest
from tiergate.types import (
    MAX_TOKENS,
    ChatRequest,
    ContentBlock,
    Message,
    TextBlock,
    Tool,
    ToolChoice,
)
from tiergate.wire import structured
from tiergate.wire.anthropic_blocks import cache_control, decode_block
from tiergate.wire.fields import fail
from tiergate.wire.fields import number as _number
from tiergate.wire.fields import optional as _optional

_KNOWN = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
    }
)
_CHOICES = ("auto", "any", "tool", "none")
# Tool fields the core ``Tool`` holds; any other field of a custom tool goes to ``Tool.extra``.
_TOOL_FIELDS = frozenset({"name", "description", "input_schema", "cache_control", "strict", "type"})


def decode_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise fail("required, a non-empty string", "model")
    messages = _messages(body.get("messages"))
    max_tokens = body.get("max_tokens")
    if (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= MAX_TOKENS
    ):
        raise fail(f"required, an integer from 1 to {MAX_TOKENS}", "max_tokens")
    top_k = _optional(body, "top_k", int, "an integer")
    if top_k is not None and not 0 <= top_k <= MAX_TOKENS:
        raise fail(f"must be an integer from 0 to {MAX_TOKENS}", "top_k")
    stream = _optional(body, "stream", bool, "a boolean") or False
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise fail("must be an array of strings", "stop_sequences")
    metadata = _optional(body, "metadata", dict, "an object") or {}
    tools, server_tools = _tools(body.get("tools"))
    extra = {k: v for k, v in body.items() if k not in _KNOWN}
    if server_tools:
        extra["server_tools"] = server_tools
    response_format = structured.decode_anthropic(body)
    extra.pop("output_format", None)  # the old beta spelling: now ``response_format``
    if isinstance(extra.get("output_config"), dict):
        rest = {k: v for k, v in extra.pop("output_config").items() if k != "format"}
        if rest:  # effort, task budget, ...: Anthropic-only settings
            extra["output_config"] = rest
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
        stream_include_usage=True,  # Anthropic streams always carry usage
        thinking=_optional(body, "thinking", dict, "an object"),
        response_format=response_format,
        extra=extra,
        source_format="anthropic",
    )


def _messages(raw: Any) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise fail("required, a non-empty array of messages", "messages")
    messages: list[Message] = []
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise fail("must be an object", where)
        role = item.get("role")
        if role not in ("user", "assistant", "system"):
            raise fail(
                f"unknown role {role!r}; expected user, assistant or system", f"{where}.role"
            )
        content = item.get("content")
        blocks: list[ContentBlock]
        if isinstance(content, str):
            blocks = [TextBlock(content)]
        elif isinstance(content, list):
            blocks = [decode_block(b, f"{where}.content[{j}]") for j, b in enumerate(content)]
        else:
            raise fail("must be a string or an array of content blocks", f"{where}.content")
        if role == "system":
            if i == 0:
                raise fail(
                    "a system message cannot come first; use the top-level system field",
                    f"{where}.role",
                )
            for j, block in enumerate(blocks):
                if not isinstance(block, TextBlock):
                    raise fail("a system message holds text blocks only", f"{where}.content[{j}]")
        extra = {k: v for k, v in item.items() if k not in ("role", "content")}
        messages.append(Message(role, blocks, extra or None))
    return messages


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
        where = f"tools[{i}]"
        if not isinstance(item, dict):
            raise fail("must be an object", where)
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise fail("required, a non-empty string", f"{where}.name")
        if item.get("type") not in (None, "custom"):
            server.append(item)  # server tools (web search, ...) only an Anthropic upstream runs
            continue
        schema = item.get("input_schema")
        if not isinstance(schema, dict):
            raise fail("required, a JSON Schema object", f"{where}.input_schema")
        description = item.get("description")
        if description is not None and not isinstance(description, str):
            raise fail("must be a string", f"{where}.description")
        strict = item.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise fail("must be a boolean", f"{where}.strict")
        extra = {k: v for k, v in item.items() if k not in _TOOL_FIELDS}
        tools.append(
            Tool(
                item["name"],
                description,
                schema,
                cache_control(item, where),
                strict=strict,
                extra=extra or None,
            )
        )
    return tools, server


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in _CHOICES:
        raise fail("type must be auto, any, tool or none", "tool_choice.type")
    if raw["type"] == "tool" and (not isinstance(raw.get("name"), str) or not raw["name"]):
        raise fail("type tool needs a name", "tool_choice.name")
    parallel = raw.get("disable_parallel_tool_use", False)
    if not isinstance(parallel, bool):
        raise fail("must be a boolean", "tool_choice.disable_parallel_tool_use")
    return ToolChoice(raw["type"], raw.get("name") if raw["type"] == "tool" else None, parallel)
