"""OpenAI Chat Completions request body -> ``ChatRequest`` (serving OpenAI-SDK clients).

Validation is by hand rather than pydantic: this runs on every request, and each failure must
name the exact field (``messages[2].content``) so the caller's SDK shows a useful 400.
"""

from __future__ import annotations

from typing import Any

import orjson

from tiergate.errors import InvalidRequest
from tiergate.types import (
    ChatRequest,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    Message,
    TextBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from tiergate.wire.documents import from_openai_file
from tiergate.wire.fields import fail as _fail
from tiergate.wire.fields import function_tool, image_from_url, tool_choice
from tiergate.wire.fields import number as _number
from tiergate.wire.fields import positive as _positive
from tiergate.wire.nesting import check_depth

_KNOWN = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "metadata",
        "user",
        "n",
    }
)


def decode_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("required, a non-empty string", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _fail("required, a non-empty array of messages", "messages")
    n = body.get("n")
    if n not in (None, 1):
        raise _fail("only n=1 is supported", "n")
    system, messages = _messages(raw_messages)
    max_key = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    max_tokens = _positive(body, max_key)
    stop = body.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = list(stop)
    else:
        raise _fail("must be a string or an array of strings", "stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _fail("must be a boolean", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _fail("must be an object", "stream_options")
    include_usage = (options or {}).get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise _fail("must be a boolean", "stream_options.include_usage")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _fail("must be an object", "metadata")
    metadata = dict(metadata)
    user = body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise _fail("must be a string", "user")
        metadata["user_id"] = user
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _fail("must be a boolean", "parallel_tool_calls")
    response_format = body.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise _fail("must be an object", "response_format")
    tools = _tools(body.get("tools"))
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=max_tokens,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stop_sequences=stops,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), parallel),
        metadata=metadata,
        stream=stream,
        stream_include_usage=include_usage,
        response_format=response_format,
        extra={k: v for k, v in body.items() if k not in _KNOWN},
        source_format="openai",
    )


def _messages(raw: list[Any]) -> tuple[list[TextBlock], list[Message]]:
    system: list[TextBlock] = []
    messages: list[Message] = []
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _fail("must be an object", where)
        role = item.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(item.get("content"), f"{where}.content", text_only=True))  # type: ignore[arg-type]
        elif role == "user":
            _append(messages, "user", _parts(item.get("content"), f"{where}.content"))
        elif role == "assistant":
            _append(messages, "assistant", _assistant(item, where))
        elif role in ("tool", "function"):
            call_id = item.get("tool_call_id") or item.get("name")
            if not isinstance(call_id, str) or not call_id:
                raise _fail("a tool message needs tool_call_id", f"{where}.tool_call_id")
            content = _parts(item.get("content", ""), f"{where}.content")
            result = ToolResultBlock(
                call_id,
                [b for b in content if isinstance(b, TextBlock | ImageBlock | DocumentBlock)],
            )
            _append(messages, "user", [result])
        else:
            raise _fail(
                f"unknown role {role!r}; expected system, developer, user, assistant or tool"
                if role is not None
                else "required: system, developer, user, assistant or tool",
                f"{where}.role",
            )
    if not messages:
        raise _fail("needs at least one user or assistant message", "messages")
    return system, messages


def _assistant(item: dict[str, Any], where: str) -> list[ContentBlock]:
    """Text, then tool calls (``tool_calls``, or the legacy single ``function_call`` whose
    answer is a ``function`` message that names it). Empty text beside tool calls is dropped:
    an empty text block is an error to Anthropic upstreams."""
    blocks: list[ContentBlock] = []
    if item.get("content") is not None:
        blocks.extend(_parts(item["content"], f"{where}.content", text_only=True))
    calls = _tool_calls(item.get("tool_calls"), f"{where}.tool_calls")
    legacy = item.get("function_call")
    if legacy is not None and not calls:
        name = legacy.get("name") if isinstance(legacy, dict) else None
        calls = [_call(legacy, str(name), f"{where}.function_call")]
    if calls:
        blocks = [b for b in blocks if not (isinstance(b, TextBlock) and not b.text)]
        blocks.extend(calls)
    if not blocks and isinstance(item.get("refusal"), str):
        blocks.append(TextBlock(item["refusal"]))
    return blocks


def _append(messages: list[Message], role: str, blocks: list[ContentBlock]) -> None:
    """Consecutive tool results join one user message, as the Anthropic format requires."""
    if (
        messages
        and messages[-1].role == role == "user"
        and blocks
        and all(isinstance(b, ToolResultBlock) for b in blocks)
        and all(isinstance(b, ToolResultBlock) for b in messages[-1].content)
    ):
        messages[-1].content.extend(blocks)
        return
    messages.append(Message(role, blocks))  # type: ignore[arg-type]


def _parts(content: Any, where: str, text_only: bool = False) -> list[ContentBlock]:
    if isinstance(content, str):
        return [TextBlock(content)]
    if not isinstance(content, list):
        raise _fail("must be a string or an array of content parts", where)
    blocks: list[ContentBlock] = []
    for j, part in enumerate(content):
        here = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise _fail("must be an object", here)
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _fail("text must be a string", f"{here}.text")
            blocks.append(TextBlock(text))
        elif kind == "image_url" and not text_only:
            blocks.append(_image(part.get("image_url"), f"{here}.image_url"))
        elif kind == "file" and not text_only:
            blocks.append(from_openai_file(part.get("file"), f"{here}.file"))
        elif kind == "refusal":
            blocks.append(TextBlock(str(part.get("refusal", ""))))
        else:
            raise _fail(f"unsupported content part type {kind!r}", f"{here}.type")
    return blocks


def _image(value: Any, where: str) -> ImageBlock:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise _fail("needs a url", where)
    return image_from_url(url, where)


def _tool_calls(raw: Any, where: str) -> list[ToolUseBlock]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail("must be an array", where)
    blocks: list[ToolUseBlock] = []
    for k, call in enumerate(raw):
        here = f"{where}[{k}]"
        if not isinstance(call, dict):
            raise _fail("must be an object", here)
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise _fail("must be a string", f"{here}.id")
        blocks.append(_call(call.get("function"), call_id or f"call_{k}", f"{here}.function"))
    return blocks


def _call(function: Any, call_id: str, where: str) -> ToolUseBlock:
    if not isinstance(function, dict):
        raise _fail("required, an object with name and arguments", where)
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise _fail("required, a non-empty string", f"{where}.name")
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(arguments, str):
        check_depth(parsed, arguments, f"{where}.arguments")
    if not isinstance(parsed, dict):
        raise _fail("must be a JSON object encoded as a string", f"{where}.arguments")
    return ToolUseBlock(call_id, name, parsed)


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail("must be an array", "tools")
    tools: list[Tool] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _fail("must be an object", f"tools[{i}]")
        if item.get("type", "function") != "function":
            raise _fail(f"unsupported tool type {item.get('type')!r}", f"tools[{i}].type")
        function = item.get("function")
        if not isinstance(function, dict):
            raise _fail("required, an object", f"tools[{i}].function")
        tools.append(function_tool(function, f"tools[{i}].function"))
    return tools


def _tool_choice(raw: Any, parallel: Any) -> ToolChoice | None:
    function = raw.get("function") if isinstance(raw, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return tool_choice(
        raw,
        parallel,
        name if isinstance(name, str) else None,
        "must be auto, none, required or {type: function, function: {name}}",
    )
