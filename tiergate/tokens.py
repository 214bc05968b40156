"""A fast input-token estimate for ``/v1/messages/count_tokens`` and budget pre-checks.

Exact counts need each provider's own tokenizer, which tiergate does not ship (no download, no
heavy import on the hot path). The estimate, and why each number:

- Text, by script (``text_units``): the usual BPE tokenizers of current models give English
  prose and code about 4 ASCII characters a token (``CHARS_PER_TOKEN``), but other scripts far
  fewer characters a token, so one rate for all would under-count a Chinese prompt about 4x.
  A character's UTF-8 length tells its script group at C speed (three ``encode`` calls, no
  per-character Python loop), and each group has its rate, in quarter tokens (``UNITS``):
  1 byte (ASCII) 1/4 token; 2 bytes (accented Latin, Greek, Cyrillic, Hebrew, Arabic) 1/2;
  3 bytes (CJK ideographs, kana, Hangul, Thai, Indic scripts, typographic punctuation) 1;
  4 bytes (emoji and other astral characters) 2. CJK at one token a character is what Claude's
  and OpenAI's tokenizers give to within about 30% (o200k a little under, Claude a little
  over); the error stays within that instead of a factor of 4.
- ``REQUEST_OVERHEAD`` 3 + ``MESSAGE_OVERHEAD`` 4 per message for role framing. Anthropic's
  documented count_tokens example (one user message "Hello, Claude" -> 14) implies ~10 tokens
  of framing for Claude, OpenAI's chat format adds ~3 per message plus 3 per reply; 7 for a
  one-message request sits between them (the estimate serves both formats).
- Tools: each definition's name, description and JSON schema at the text rate, plus
  ``TOOL_OVERHEAD`` 8 for its framing, plus ``TOOL_SYSTEM_PROMPT`` 346 once when any tool is
  given: the system prompt Anthropic documents adding for tool use (346 for auto/none, 313 for
  any/tool on current models; the larger is used).
- Images: Anthropic's formula width*height/750, capped at ``IMAGE_TOKENS`` 1,600 (what a
  ~1.15-megapixel image costs; larger ones are scaled down to that). Dimensions are read from the
  first bytes of a base64 PNG or GIF; any other image (JPEG, URL) is charged the cap, which errs
  high -- the safe side for a budget check.
- Documents: a plain-text source counts at the text rate; a PDF or other source is charged
  ``IMAGE_TOKENS`` (a page's worth; its real cost grows with its pages, which are not read here).
- Tool calls, thinking and blocks kept as given (server tool results, ...) already in the
  conversation count at the text rate (their JSON, for the last).
"""

from __future__ import annotations

import binascii
from base64 import b64decode

import orjson

from tiergate.types import (
    ChatRequest,
    DocumentBlock,
    ImageBlock,
    OpaqueBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)

CHARS_PER_TOKEN = 4  # ASCII characters a token
UNITS_PER_TOKEN = 4  # ``text_units`` counts quarter tokens
REQUEST_OVERHEAD = 3
MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 8
TOOL_SYSTEM_PROMPT = 346
IMAGE_TOKENS = 1600
PIXELS_PER_TOKEN = 750


def image_tokens(image: ImageBlock) -> int:
    """Tokens for one image: from its pixel size when the header gives it, else the cap."""
    size = _dimensions(image.data) if image.source_type == "base64" and image.data else None
    if size is None:
        return IMAGE_TOKENS
    width, height = size
    return max(1, min(IMAGE_TOKENS, -(-width * height // PIXELS_PER_TOKEN)))


def _dimensions(data: str) -> tuple[int, int] | None:
    try:
        head = b64decode(data[:32])  # 24 bytes: enough for the PNG IHDR and the GIF header
    except (binascii.Error, ValueError):
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    return None


def document_units_and_tokens(document: DocumentBlock) -> tuple[int, int]:
    """(text units, fixed tokens) of a document (see the module docstring)."""
    data = document.source.get("data")
    if document.source_type == "text" and isinstance(data, str):
        return text_units(data), 0
    return 0, IMAGE_TOKENS


def tokens_for_chars(chars: int) -> int:
    """Tokens for ``chars`` ASCII characters (callers that only know a length)."""
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def text_units(text: str) -> int:
    """``text``'s estimated tokens in quarter tokens (see the module docstring for the rates).
    Quarter tokens add up exactly across the pieces of a stream; round once at the end."""
    if text.isascii():
        return len(text)
    n = len(text)
    ascii_count = len(text.encode("ascii", "ignore"))
    utf8 = len(text.encode("utf-8", "surrogatepass"))
    astral = len(text.encode("utf-16-le", "surrogatepass")) // 2 - n
    rest = n - ascii_count - astral  # 2- and 3-byte characters
    three = utf8 - ascii_count - 4 * astral - 2 * rest
    two = rest - three
    return ascii_count + 2 * two + 4 * three + 8 * astral


def tokens_for_units(units: int) -> int:
    return (units + UNITS_PER_TOKEN - 1) // UNITS_PER_TOKEN


def tokens_for_text(text: str) -> int:
    """Estimated tokens of one piece of text."""
    return tokens_for_units(text_units(text))


def estimate_input_tokens(request: ChatRequest) -> int:
    units = sum(text_units(b.text) for b in request.system)
    tokens = REQUEST_OVERHEAD
    for message in request.messages:
        tokens += MESSAGE_OVERHEAD
        for block in message.content:
            if isinstance(block, TextBlock):
                units += text_units(block.text)
            elif isinstance(block, ImageBlock):
                tokens += image_tokens(block)
            elif isinstance(block, DocumentBlock):
                more_units, more_tokens = document_units_and_tokens(block)
                units += more_units
                tokens += more_tokens
            elif isinstance(block, OpaqueBlock):
                units += len(orjson.dumps(block.data))
            elif isinstance(block, ToolUseBlock):
                units += text_units(block.name) + len(orjson.dumps(block.input))
            elif isinstance(block, ToolResultBlock):
                for part in block.content:
                    if isinstance(part, TextBlock):
                        units += text_units(part.text)
                    elif isinstance(part, ImageBlock):
                        tokens += image_tokens(part)
                    elif isinstance(part, DocumentBlock):
                        more_units, more_tokens = document_units_and_tokens(part)
                        units += more_units
                        tokens += more_tokens
                    else:
                        units += len(orjson.dumps(part.data))
            elif isinstance(block, ThinkingBlock):
                units += text_units(block.thinking)
    if request.tools:
        tokens += TOOL_SYSTEM_PROMPT
    for tool in request.tools:
        tokens += TOOL_OVERHEAD
        units += (
            text_units(tool.name)
            + text_units(tool.description or "")
            + len(orjson.dumps(tool.input_schema))
        )
    return tokens + tokens_for_units(units)
