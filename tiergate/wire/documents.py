"""Documents (``DocumentBlock``) in OpenAI Chat Completions terms, both ways.

Chat Completions reads a PDF as a ``file`` content part whose ``file_data`` is a base64 data
URL; plain text needs no special part. So an Anthropic ``document`` becomes:
- base64 PDF -> ``{"type": "file", "file": {"filename", "file_data"}}``;
- plain-text source -> a text part (the title, if any, on its first line);
- ``content`` source (text and image blocks) -> those blocks as text and image parts.
A PDF given by URL, or by an Anthropic Files API id, has no Chat Completions form (the API
fetches no URLs for files and knows no Anthropic file ids): ``InvalidRequest``, a 400 in the
caller's format, before anything is sent. Citations are Anthropic-only; an OpenAI-format model
answers without them.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import InvalidRequest
from tiergate.types import DocumentBlock, ImageBlock, TextBlock

PDF = "application/pdf"


def openai_parts(document: DocumentBlock) -> list[TextBlock | ImageBlock | dict[str, Any]]:
    """The document as Chat Completions content: core text/image blocks, or a ready ``file``
    part (a dict)."""
    source = document.source
    kind = document.source_type
    if kind == "base64" and source.get("media_type") == PDF:
        name = document.title or "document.pdf"
        data_url = f"data:{PDF};base64,{source.get('data')}"
        return [{"type": "file", "file": {"filename": name, "file_data": data_url}}]
    if kind == "text":
        text = str(source.get("data") or "")
        return [TextBlock(f"{document.title}\n\n{text}" if document.title else text)]
    if kind == "content":
        return _content_source(source.get("content"))
    raise InvalidRequest(
        f"a document with a {kind!r} source cannot be sent to this model's OpenAI-format API "
        "(it reads PDFs only as base64 data and plain text); send the PDF as base64 data",
        param="messages.content.source",
    )


def _content_source(content: Any) -> list[TextBlock | ImageBlock | dict[str, Any]]:
    if isinstance(content, str):
        return [TextBlock(content)]
    parts: list[TextBlock | ImageBlock | dict[str, Any]] = []
    for item in content if isinstance(content, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "text" and isinstance(item.get("text"), str):
            parts.append(TextBlock(item["text"]))
        elif item.get("type") == "image" and isinstance(item.get("source"), dict):
            image = item["source"]
            if image.get("type") == "base64":
                parts.append(ImageBlock("base64", image.get("media_type"), image.get("data")))
            elif image.get("type") == "url":
                parts.append(ImageBlock("url", url=image.get("url")))
    return parts


def from_openai_file(part: Any, where: str) -> DocumentBlock:
    """An OpenAI ``file`` content part (``file_data`` as a data URL) as a document."""
    file = part if isinstance(part, dict) else {}
    data = file.get("file_data")
    if not isinstance(data, str):
        what = "file_id" if file.get("file_id") else "file_data"
        raise InvalidRequest(
            f"{where}: needs file_data (a base64 data URL); {what} cannot be read here",
            param=where,
        )
    if data.startswith("data:"):
        header, sep, payload = data[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64":
            raise InvalidRequest(f"{where}.file_data: must be a base64 data URL", param=where)
    else:  # some clients send the bare base64 of a PDF
        media_type, payload = PDF, data
    extra: dict[str, Any] = {}
    if isinstance(file.get("filename"), str):
        extra["title"] = file["filename"]
    return DocumentBlock({"type": "base64", "media_type": media_type, "data": payload}, extra)
