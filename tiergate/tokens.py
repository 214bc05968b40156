"""A fast input-token estimate for count_tokens and budget pre-checks.

Exact counts need each provider's own tokenizer, which tiergate does not ship; the estimate is
~4 characters a token for English text and code (the usual figure for BPE tokenizers of this
generation), plus fixed overheads: 4 tokens per message for role framing, the JSON of each tool
definition at the same rate plus 8, and 1,600 tokens per image (Anthropic's figure for a
~1.15-megapixel image; smaller images cost less, so this errs high, which is the safe side for
a budget check).
"""

from __future__ import annotations

import orjson

from tiergate.types import ChatRequest, ImageBlock, TextBlock, ToolResultBlock, ToolUseBlock

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 8
IMAGE_TOKENS = 1600


def estimate_input_tokens(request: ChatRequest) -> int:
    chars = sum(len(b.text) for b in request.system)
    tokens = 0
    for message in request.messages:
        tokens += MESSAGE_OVERHEAD
        for block in message.content:
            if isinstance(block, TextBlock):
                chars += len(block.text)
            elif isinstance(block, ImageBlock):
                tokens += IMAGE_TOKENS
            elif isinstance(block, ToolUseBlock):
                chars += len(block.name) + len(orjson.dumps(block.input))
            elif isinstance(block, ToolResultBlock):
                for part in block.content:
                    if isinstance(part, TextBlock):
                        chars += len(part.text)
                    else:
                        tokens += IMAGE_TOKENS
    for tool in request.tools:
        tokens += TOOL_OVERHEAD
        chars += len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.input_schema))
    return tokens + (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
