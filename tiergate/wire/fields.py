"""Checks of a request body's fields shared by the serving decoders, each failure naming the field.

The decoders (``openai_decode``, ``responses_decode``, ``anthropic_decode``) validate by hand
rather than with pydantic: they run on every request, and each 400 must name the exact field
(``input[2].content[0].image_url``) so the caller's SDK shows a useful message. What several of
them check the same way lives here, so a rule (a bool is not a number) holds for all of them.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import InvalidRequest
from tiergate.types import MAX_TOKENS, ImageBlock, Tool, ToolChoice


def fail(message: str, param: str) -> InvalidRequest:
    """The 400 for field ``param``: its name first, then what is wrong with it."""
    return InvalidRequest(f"{param}: {message}", param=param)


def number(body: dict[str, Any], key: str) -> float | None:
    """``body[key]`` as a float; absent or null is None; a bool is not a number."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("must be a number", key)
    return float(value)


def positive(body: dict[str, Any], key: str) -> int | None:
    """``body[key]`` if absent, null or an integer from 1 to ``MAX_TOKENS`` (a bool is not
    one): the token counts a request asks for, bounded so every estimate fits the store."""
    value = body.get(key)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS
    ):
        raise fail(f"must be an integer from 1 to {MAX_TOKENS}", key)
    return value


def optional(body: dict[str, Any], key: str, kind: type, what: str) -> Any:
    """``body[key]`` if absent, null or of ``kind`` (a bool is not accepted as an integer)."""
    value = body.get(key)
    if value is None or (isinstance(value, kind) and (kind is bool or not isinstance(value, bool))):
        return value
    raise fail(f"must be {what}", key)


def image_from_url(url: str, where: str) -> ImageBlock:
    """An image given as a URL: a base64 ``data:image/...`` URL, or an http(s) one."""
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not media_type.startswith("image/"):
            raise fail("data URLs must look like data:image/png;base64,...", where)
        return ImageBlock("base64", media_type=media_type, data=data)
    if url.startswith(("http://", "https://")):
        return ImageBlock("url", url=url)
    raise fail("must be an http(s) URL or a data: URL", where)


def function_tool(spec: dict[str, Any], where: str) -> Tool:
    """A function tool from its ``name``, ``description``, ``parameters`` and ``strict``
    (nested under ``function`` in Chat Completions, flat in the Responses API)."""
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise fail("required, a non-empty string", f"{where}.name")
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise fail("must be a string", f"{where}.description")
    schema = spec.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(schema, dict):
        raise fail("must be a JSON Schema object", f"{where}.parameters")
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise fail("must be a boolean", f"{where}.strict")
    return Tool(name, description, schema, strict=strict)


def tool_choice(raw: Any, parallel: Any, named: str | None, expected: str) -> ToolChoice | None:
    """An OpenAI ``tool_choice`` (``auto``, ``none``, ``required`` or a named function) with
    ``parallel_tool_calls``. ``named``: the function a dict choice names, which each format
    nests differently (None if it names none); ``expected``: the 400's message otherwise."""
    disable = parallel is False
    if raw is None:
        return ToolChoice("auto", disable_parallel_tool_use=True) if disable else None
    if raw == "auto":
        return ToolChoice("auto", disable_parallel_tool_use=disable)
    if raw == "none":
        return ToolChoice("none")
    if raw == "required":
        return ToolChoice("any", disable_parallel_tool_use=disable)
    if named is not None:
        return ToolChoice("tool", name=named, disable_parallel_tool_use=disable)
    raise fail(expected, "tool_choice")
