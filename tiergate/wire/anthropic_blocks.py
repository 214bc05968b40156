"""Anthropic content blocks <-> core blocks, shared by both directions of the format.

Requests and responses use the same block grammar, so one pair of functions serves decoding a
client's request, encoding a response, and building an upstream request.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import InvalidRequest
from tiergate.types import (
    ContentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)


def fail(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param=param)


def _cache(block: dict[str, Any]) -> dict[str, Any] | None:
    value = block.get("cache_control")
    return value if isinstance(value, dict) else None


def decode_block(raw: Any, where: str) -> ContentBlock:
    if not isinstance(raw, dict):
        raise fail("must be an object", where)
    kind = raw.get("type")
    if kind == "text":
        if not isinstance(raw.get("text"), str):
            raise fail("text must be a string", f"{where}.text")
        return TextBlock(raw["text"], _cache(raw))
    if kind == "image":
        return decode_image(raw, where)
    if kind == "tool_use":
        if not isinstance(raw.get("id"), str) or not isinstance(raw.get("name"), str):
            raise fail("tool_use needs id and name", where)
        tool_input = raw.get("input", {})
        if not isinstance(tool_input, dict):
            raise fail("must be an object", f"{where}.input")
        return ToolUseBlock(raw["id"], raw["name"], tool_input, _cache(raw))
    if kind == "tool_result":
        tool_use_id = raw.get("tool_use_id")
        if not isinstance(tool_use_id, str) or not tool_use_id:
            raise fail("tool_result needs tool_use_id", f"{where}.tool_use_id")
        content = raw.get("content", [])
        if isinstance(content, str):
            parts: list[TextBlock | ImageBlock] = [TextBlock(content)]
        elif isinstance(content, list):
            parts = []
            for j, item in enumerate(content):
                block = decode_block(item, f"{where}.content[{j}]")
                if not isinstance(block, TextBlock | ImageBlock):
                    raise fail("only text and image blocks", f"{where}.content[{j}]")
                parts.append(block)
        else:
            raise fail("must be a string or an array", f"{where}.content")
        return ToolResultBlock(tool_use_id, parts, bool(raw.get("is_error", False)), _cache(raw))
    if kind == "thinking":
        return ThinkingBlock(str(raw.get("thinking", "")), raw.get("signature"))
    if kind == "redacted_thinking":
        return ThinkingBlock(str(raw.get("data", "")), None, redacted=True)
    raise fail(f"unsupported content block type {kind!r}", f"{where}.type")


def decode_image(raw: dict[str, Any], where: str) -> ImageBlock:
    source = raw.get("source")
    if not isinstance(source, dict):
        raise fail("image needs a source", f"{where}.source")
    if source.get("type") == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise fail("base64 source needs media_type and data", f"{where}.source")
        return ImageBlock("base64", media_type=media_type, data=data, cache_control=_cache(raw))
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return ImageBlock("url", url=source["url"], cache_control=_cache(raw))
    raise fail("source.type must be base64 or url", f"{where}.source")


def encode_block(block: ContentBlock) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(block, TextBlock):
        out = {"type": "text", "text": block.text}
    elif isinstance(block, ToolUseBlock):
        out = {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    elif isinstance(block, ImageBlock):
        if block.source_type == "url":
            out = {"type": "image", "source": {"type": "url", "url": block.url}}
        else:
            source = {"type": "base64", "media_type": block.media_type, "data": block.data}
            out = {"type": "image", "source": source}
    elif isinstance(block, ToolResultBlock):
        out = {
            "type": "tool_result",
            "tool_use_id": block.tool_use_id,
            "content": [encode_block(b) for b in block.content],
        }
        if block.is_error:
            out["is_error"] = True
    elif block.redacted:
        return {"type": "redacted_thinking", "data": block.thinking}
    else:
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature or ""}
    if block.cache_control is not None:
        out["cache_control"] = block.cache_control
    return out
