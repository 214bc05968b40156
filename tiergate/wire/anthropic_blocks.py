"""Anthropic content blocks <-> core blocks, shared by both directions of the format.

Requests and responses use the same block grammar, so one pair of functions serves decoding a
client's request, encoding a response, and building an upstream request. Validation is by hand
(no pydantic): this runs on every request, and each error names the exact field
(``messages[2].content[0].source``) the way the real API's errors do.
"""

from __future__ import annotations

from typing import Any

from tiergate.types import (
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    OpaqueBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
)
from tiergate.wire.fields import fail


def cache_control(raw: dict[str, Any], where: str) -> dict[str, Any] | None:
    """``cache_control`` as given ({"type": "ephemeral", "ttl": "1h"}); kept opaque so new TTLs
    pass through, but it must be an object."""
    value = raw.get("cache_control")
    if value is None or isinstance(value, dict):
        return value
    raise fail("must be an object", f"{where}.cache_control")


def _string(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise fail("required, a string", f"{where}.{key}")
    return value


def decode_block(raw: Any, where: str) -> ContentBlock:
    if not isinstance(raw, dict):
        raise fail("must be an object", where)
    kind = raw.get("type")
    if kind == "text":
        citations = raw.get("citations")
        if citations is not None and not isinstance(citations, list):
            raise fail("must be an array", f"{where}.citations")
        return TextBlock(_string(raw, "text", where), cache_control(raw, where), citations or None)
    if kind == "image":
        return decode_image(raw, where)
    if kind == "document":
        return decode_document(raw, where)
    if kind == "tool_use":
        tool_input = raw.get("input", {})
        if not isinstance(tool_input, dict):
            raise fail("must be an object", f"{where}.input")
        return ToolUseBlock(
            _string(raw, "id", where),
            _string(raw, "name", where),
            tool_input,
            cache_control(raw, where),
        )
    if kind == "tool_result":
        return _decode_tool_result(raw, where)
    if kind == "thinking":
        signature = raw.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise fail("must be a string", f"{where}.signature")
        return ThinkingBlock(_string(raw, "thinking", where), signature)
    if kind == "redacted_thinking":
        return ThinkingBlock(_string(raw, "data", where), None, redacted=True)
    if isinstance(kind, str) and kind:
        return OpaqueBlock(raw)  # newer or server-side blocks: for an Anthropic upstream
    raise fail("required, the content block's type", f"{where}.type")


def _decode_tool_result(raw: dict[str, Any], where: str) -> ToolResultBlock:
    tool_use_id = raw.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise fail("tool_result needs tool_use_id", f"{where}.tool_use_id")
    content = raw.get("content")
    parts: list[ToolResultPart] = []
    if isinstance(content, str):
        parts.append(TextBlock(content))
    elif isinstance(content, list):
        for j, item in enumerate(content):
            block = decode_block(item, f"{where}.content[{j}]")
            if not isinstance(block, TextBlock | ImageBlock | DocumentBlock | OpaqueBlock):
                raise fail("not allowed in a tool result", f"{where}.content[{j}]")
            parts.append(block)
    elif content is not None:
        raise fail("must be a string or an array", f"{where}.content")
    is_error = raw.get("is_error", False)
    if not isinstance(is_error, bool):
        raise fail("must be a boolean", f"{where}.is_error")
    return ToolResultBlock(tool_use_id, parts, is_error, cache_control(raw, where))


def decode_image(raw: dict[str, Any], where: str) -> ImageBlock:
    source = raw.get("source")
    if not isinstance(source, dict):
        raise fail("image needs a source object", f"{where}.source")
    cache = cache_control(raw, where)
    if source.get("type") == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise fail("base64 source needs media_type and data", f"{where}.source")
        return ImageBlock("base64", media_type=media_type, data=data, cache_control=cache)
    if source.get("type") == "url":
        if not isinstance(source.get("url"), str):
            raise fail("url source needs a url string", f"{where}.source.url")
        return ImageBlock("url", url=source["url"], cache_control=cache)
    raise fail("source.type must be base64 or url", f"{where}.source.type")


# A document's source types, and the string fields each one needs (the API reference's shapes).
_DOCUMENT_SOURCES: dict[str, tuple[str, ...]] = {
    "base64": ("media_type", "data"),
    "url": ("url",),
    "text": ("data",),
    "content": (),
    "file": ("file_id",),
}


def decode_document(raw: dict[str, Any], where: str) -> DocumentBlock:
    """The source is checked as the API checks it; everything else is kept as given."""
    source = raw.get("source")
    if not isinstance(source, dict):
        raise fail("document needs a source object", f"{where}.source")
    kind = source.get("type")
    if kind not in _DOCUMENT_SOURCES:
        raise fail("source.type must be base64, url, text, content or file", f"{where}.source.type")
    for key in _DOCUMENT_SOURCES[kind]:
        if not isinstance(source.get(key), str):
            raise fail(f"a {kind} source needs {key} (a string)", f"{where}.source.{key}")
    if kind == "content" and not isinstance(source.get("content"), str | list):
        raise fail("a content source needs content", f"{where}.source.content")
    extra = {k: v for k, v in raw.items() if k not in ("type", "source", "cache_control")}
    return DocumentBlock(source, extra, cache_control(raw, where))


def encode_block(block: ContentBlock) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(block, TextBlock):
        out = {"type": "text", "text": block.text}
        if block.citations:
            out["citations"] = block.citations
    elif isinstance(block, DocumentBlock):
        out = {"type": "document", "source": block.source, **block.extra}
    elif isinstance(block, OpaqueBlock):
        return block.data
    elif isinstance(block, ToolUseBlock):
        out = {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    elif isinstance(block, ImageBlock):
        if block.source_type == "url":
            out = {"type": "image", "source": {"type": "url", "url": block.url}}
        else:
            source = {"type": "base64", "media_type": block.media_type, "data": block.data}
            out = {"type": "image", "source": source}
    elif isinstance(block, ToolResultBlock):
        out = {"type": "tool_result", "tool_use_id": block.tool_use_id}
        # The API takes a result with no content ([] is spelled by omission) but refuses an
        # empty text block, which a tool that printed nothing gives an OpenAI client.
        content = [encode_block(b) for b in block.content if not empty_text(b)]
        if content:
            out["content"] = content
        if block.is_error:
            out["is_error"] = True
    elif block.redacted:
        return {"type": "redacted_thinking", "data": block.thinking}
    else:
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature or ""}
    if block.cache_control is not None:
        out["cache_control"] = block.cache_control
    return out


def empty_text(block: ContentBlock) -> bool:
    """A text block with no text: the Messages API refuses it wherever it appears."""
    return isinstance(block, TextBlock) and not block.text
