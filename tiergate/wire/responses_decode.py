"""OpenAI Responses API request body -> ``ChatRequest`` (serving ``POST /v1/responses``).

The Responses API describes a conversation as a list of *items* rather than messages: a
message (``input_text`` / ``input_image`` parts, or an earlier answer's ``output_text``), a
``function_call`` the model made, the ``function_call_output`` the caller computed for it, a
``reasoning`` item. Consecutive items of one role become one core message, so a text answer
followed by its function calls is one assistant turn, as the Anthropic format requires.

What the gateway cannot do is refused with a 400 naming the field, never silently dropped:
hosted tools (web search, file search, computer use, code interpreter, MCP...), files by id,
background mode, stored prompts and conversations. ``previous_response_id`` is not resolved
here (that needs the store); ``with_history`` puts a stored conversation in front afterwards.

Validation is by hand, as in ``openai_decode``: each failure names the exact field
(``input[2].content[0].image_url``) so the caller's SDK shows a useful 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tiergate.errors import InvalidRequest
from tiergate.types import (
    ChatRequest,
    ContentBlock,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
)
from tiergate.wire.fields import fail as _fail
from tiergate.wire.fields import function_tool, image_from_url, tool_choice
from tiergate.wire.fields import number as _number
from tiergate.wire.fields import optional as _optional
from tiergate.wire.fields import positive as _positive
from tiergate.wire.responses_encode import REDACTED, SIGNATURE

# Hints with nothing to honour beyond what the gateway does anyway: accepted, echoed where the
# response object has a field for them. (Prompt caching hints go on to OpenAI-format upstreams.)
_HINTS = frozenset(
    {
        "service_tier",
        "truncation",
        "include",
        "stream_options",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "access_programs",
        "image",
        "background_options",
    }
)

# Refused when set: the gateway cannot honour them, and ignoring them would change the answer.
_REFUSED = {
    "background": "background mode is not supported; send the request without it",
    "conversation": "the Conversations API is not supported; use previous_response_id",
    "prompt": "stored prompt templates are not supported; send instructions and input",
    "context_management": "server-side context compaction is not supported",
    "moderation": "moderation is not supported by the gateway",
}

_KNOWN = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "temperature",
        "top_p",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "stream",
        "store",
        "previous_response_id",
        "metadata",
        "reasoning",
        "top_logprobs",
        "max_tool_calls",
        *_HINTS,
        *_REFUSED,
    }
)

_ROLES = ("user", "assistant", "system", "developer")


@dataclass(slots=True)
class ResponsesRequest:
    """A decoded Responses request: the core request, plus what only this API has.

    ``items``: the input as a list of items (a string input becomes one user message), kept to
    store with the answer so that a later ``previous_response_id`` can continue from it.
    ``echo``: the request's settings as the response object repeats them.
    """

    chat: ChatRequest
    items: list[Any]
    previous_response_id: str | None = None
    store: bool = True
    echo: dict[str, Any] = field(default_factory=dict)


def decode_request(body: Any) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    for key, why in _REFUSED.items():
        if body.get(key):
            raise _fail(why, key)
    unknown = sorted(k for k in body if k not in _KNOWN)
    if unknown:
        raise _fail("unknown parameter", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("required, a non-empty string", "model")
    items = _input_items(body.get("input"))
    system, messages = decode_items(items, "input")
    instructions = _optional(body, "instructions", str, "a string")
    if instructions:
        system.insert(0, TextBlock(instructions))
    stream = _optional(body, "stream", bool, "a boolean") or False
    store = _optional(body, "store", bool, "a boolean")
    previous = _optional(body, "previous_response_id", str, "a string")
    if previous == "":
        raise _fail("must be a response id (resp_...)", "previous_response_id")
    if not messages and previous is None:
        raise _fail("needs at least one user or assistant message", "input")
    metadata = _optional(body, "metadata", dict, "an object") or {}
    routing_metadata = dict(metadata)
    for key in ("safety_identifier", "user"):
        who = _optional(body, key, str, "a string")
        if who:
            routing_metadata["user_id"] = who
    parallel = _optional(body, "parallel_tool_calls", bool, "a boolean")
    tools = _tools(body.get("tools"))
    top_logprobs = body.get("top_logprobs")
    if top_logprobs not in (None, 0):
        raise _fail("log probabilities are not supported on /v1/responses", "top_logprobs")
    if body.get("max_tool_calls") is not None:
        raise _fail("not supported: the gateway runs one model turn per request", "max_tool_calls")
    extra: dict[str, Any] = {}
    reasoning = _optional(body, "reasoning", dict, "an object")
    effort = (reasoning or {}).get("effort")
    if effort is not None:
        if not isinstance(effort, str):
            raise _fail("must be a string", "reasoning.effort")
        extra["reasoning_effort"] = effort  # Chat Completions' name, for OpenAI-format upstreams
    if body.get("truncation") not in (None, "auto", "disabled"):
        raise _fail("must be auto or disabled", "truncation")
    _optional(body, "service_tier", str, "a string")
    include = _optional(body, "include", list, "an array of strings") or []
    if not all(isinstance(name, str) for name in include):
        raise _fail("must be an array of strings", "include")
    for key in ("prompt_cache_key", "prompt_cache_retention"):
        if body.get(key) is not None:
            extra[key] = _optional(body, key, str, "a string")
    text = _optional(body, "text", dict, "an object")
    verbosity = (text or {}).get("verbosity")
    if verbosity is not None:
        if not isinstance(verbosity, str):
            raise _fail("must be a string", "text.verbosity")
        extra["verbosity"] = verbosity
    chat = ChatRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=_positive(body, "max_output_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), parallel),
        metadata=routing_metadata,
        stream=stream,
        stream_include_usage=True,
        response_format=_response_format(text),
        extra=extra,
        # ``extra`` holds Chat Completions names only, so OpenAI-format upstreams may take it.
        source_format="openai",
    )
    echo: dict[str, Any] = {
        "instructions": instructions,
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": metadata,
        "parallel_tool_calls": True if parallel is None else parallel,
        "previous_response_id": previous,
        "reasoning": {"effort": effort, "summary": (reasoning or {}).get("summary")},
        "service_tier": body.get("service_tier") or "default",
        "store": True if store is None else store,
        "temperature": chat.temperature if chat.temperature is not None else 1.0,
        "text": text or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": chat.top_p if chat.top_p is not None else 1.0,
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
        "safety_identifier": body.get("safety_identifier"),
        "prompt_cache_key": body.get("prompt_cache_key"),
    }
    return ResponsesRequest(chat, items, previous, echo["store"], echo)


def with_history(request: ResponsesRequest, history: list[Any]) -> None:
    """Continue a stored conversation: ``history`` (the earlier request's items and its
    answer's output items, as stored) goes in front of this request's input. Only the new
    ``instructions`` apply: OpenAI does not carry an earlier response's instructions over,
    but system and developer messages among the earlier items are part of the conversation."""
    system, earlier = decode_items(history, "previous_response_id")
    if system:
        after = 1 if request.echo.get("instructions") else 0
        request.chat.system[after:after] = system
    request.items = [*history, *request.items]
    messages = request.chat.messages
    request.chat.messages = earlier
    for message in messages:
        _append(earlier, message.role, message.content)
    if not earlier:
        raise _fail("needs at least one user or assistant message", "input")


def _input_items(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail("must be a string or an array of input items", "input")
    return raw


def decode_items(items: list[Any], where: str) -> tuple[list[TextBlock], list[Message]]:
    """Items -> (system text, messages). System and developer messages join the system
    prompt; a ``function_call_output`` becomes a tool result in a user turn."""
    system: list[TextBlock] = []
    messages: list[Message] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise _fail("must be an object", here)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise _fail(f"must be one of {', '.join(_ROLES)}", f"{here}.role")
            blocks = _parts(item.get("content"), f"{here}.content", role)
            if role in ("system", "developer"):
                system.extend(b for b in blocks if isinstance(b, TextBlock))
            else:
                _append(messages, role, blocks)
        elif kind == "function_call":
            _append(messages, "assistant", [_function_call(item, here)])
        elif kind == "function_call_output":
            _append(messages, "user", [_function_output(item, here)])
        elif kind == "reasoning":
            thinking = _reasoning(item, here)
            if thinking is not None:
                _append(messages, "assistant", [thinking])
        elif kind == "item_reference":
            raise _fail("item references are not supported; send the item itself", f"{here}.type")
        else:
            raise _fail(
                f"unsupported item type {kind!r}; expected message, function_call, "
                "function_call_output or reasoning",
                f"{here}.type",
            )
    return system, messages


def _append(messages: list[Message], role: str, blocks: list[ContentBlock]) -> None:
    """Consecutive items of one role make one turn; in a user turn, tool results go first."""
    if messages and messages[-1].role == role:
        content = messages[-1].content
        content.extend(blocks)
        if role == "user" and any(isinstance(b, ToolResultBlock) for b in blocks):
            content.sort(key=lambda b: not isinstance(b, ToolResultBlock))
        return
    messages.append(Message(role, list(blocks)))  # type: ignore[arg-type]


def _parts(content: Any, where: str, role: str) -> list[ContentBlock]:
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
        if kind in ("input_text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise _fail("must be a string", f"{here}.text")
            blocks.append(TextBlock(text))
        elif kind == "refusal":
            blocks.append(TextBlock(str(part.get("refusal") or "")))
        elif kind == "input_image" and role == "user":
            blocks.append(_image(part, here))
        elif kind == "input_file":
            raise _fail(
                "file inputs are not supported on /v1/responses; send the text or an image",
                f"{here}.type",
            )
        else:
            raise _fail(f"unsupported content part type {kind!r}", f"{here}.type")
    return blocks


def _image(part: dict[str, Any], where: str) -> ImageBlock:
    if part.get("file_id") is not None:
        raise _fail("images by file id are not supported; send image_url", f"{where}.file_id")
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        raise _fail("required, an http(s) URL or a data: URL", f"{where}.image_url")
    return image_from_url(url, f"{where}.image_url")


def _call_id(item: dict[str, Any], where: str) -> str:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise _fail("required, a non-empty string", f"{where}.call_id")
    return call_id


def _function_call(item: dict[str, Any], where: str) -> ToolUseBlock:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _fail("required, a non-empty string", f"{where}.name")
    arguments = item.get("arguments")
    if not isinstance(arguments, str):
        raise _fail("required, a JSON object encoded as a string", f"{where}.arguments")
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise _fail("must be a JSON object encoded as a string", f"{where}.arguments")
    return ToolUseBlock(_call_id(item, where), name, parsed)


def _function_output(item: dict[str, Any], where: str) -> ToolResultBlock:
    output = item.get("output")
    if isinstance(output, str):
        content: list[ToolResultPart] = [TextBlock(output)]
    elif isinstance(output, list):
        content = [
            b
            for b in _parts(output, f"{where}.output", "user")
            if isinstance(b, TextBlock | ImageBlock)
        ]
    else:
        raise _fail("required, a string or an array of content parts", f"{where}.output")
    return ToolResultBlock(_call_id(item, where), content)


def _reasoning(item: dict[str, Any], where: str) -> ThinkingBlock | None:
    """A reasoning item given back. Its text (``content``, else ``summary``) and, when this
    gateway made the item, its ``encrypted_content`` (an Anthropic thinking signature, or the
    data of redacted thinking) restore the thinking block the answer had. Another server's
    encrypted reasoning means nothing here: the text stays, unsigned (so Anthropic upstreams
    leave it out, as they must)."""
    texts: list[str] = []
    for key in ("content", "summary"):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [
                p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
            ]
            if texts:
                break
        elif parts is not None:
            raise _fail("must be an array", f"{where}.{key}")
    sealed = item.get("encrypted_content")
    if sealed is not None and not isinstance(sealed, str):
        raise _fail("must be a string", f"{where}.encrypted_content")
    text = "".join(texts)
    if sealed and sealed.startswith(REDACTED):
        return ThinkingBlock(sealed.removeprefix(REDACTED), redacted=True)
    signature = sealed.removeprefix(SIGNATURE) if sealed and sealed.startswith(SIGNATURE) else None
    return ThinkingBlock(text, signature=signature) if text else None


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail("must be an array", "tools")
    tools: list[Tool] = []
    for i, item in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(item, dict):
            raise _fail("must be an object", where)
        kind = item.get("type")
        if kind != "function":
            raise _fail(
                f"unsupported tool type {kind!r}: the gateway serves function tools only; "
                "hosted tools (web search, file search, computer use, code interpreter, MCP, "
                "image generation) are not available",
                f"{where}.type",
            )
        tools.append(function_tool(item, where))
    return tools


def _tool_choice(raw: Any, parallel: bool | None) -> ToolChoice | None:
    name = raw.get("name") if isinstance(raw, dict) and raw.get("type") == "function" else None
    return tool_choice(
        raw,
        parallel,
        name if isinstance(name, str) and name else None,
        "must be auto, none, required or {type: function, name}; hosted-tool choices and "
        "allowed_tools are not supported",
    )


def _response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    """``text.format`` in Chat Completions' ``response_format`` shape (the core model's)."""
    if not text:
        return None
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise _fail("must be an object", "text.format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        name = fmt.get("name")
        if not isinstance(name, str) or not name:
            raise _fail("required, a non-empty string", "text.format.name")
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise _fail("required, a JSON Schema object", "text.format.schema")
        spec: dict[str, Any] = {"name": name, "schema": schema}
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                spec[key] = fmt[key]
        return {"type": "json_schema", "json_schema": spec}
    raise _fail(
        f"unsupported format type {kind!r}; expected text, json_object or json_schema",
        "text.format.type",
    )
