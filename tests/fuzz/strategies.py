"""Hypothesis strategies for malformed (and occasionally valid) chat requests.

Bodies are built from the real field names of both formats with values of any JSON type, so
the fuzzer reaches the validation code behind each field instead of failing at the first.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

FIELDS = [
    "model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options",
    "tools", "tool_choice", "temperature", "top_p", "top_k", "stop", "stop_sequences", "system",
    "metadata", "response_format", "thinking", "n", "user", "parallel_tool_calls",
]  # fmt: skip
ROLES = ["user", "assistant", "system", "developer", "tool", "function", "wizard", "", None]
BLOCK_TYPES = ["text", "image", "image_url", "tool_use", "tool_result", "thinking", "document", 7]
MODELS = ["gpt-5.4", "claude-haiku-4-5", "auto", "", "nope", "local/smollm2-135m"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False),
    st.text(max_size=40),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def blocks(draw: st.DrawFn) -> Any:
    block: dict[str, Any] = {"type": draw(st.sampled_from(BLOCK_TYPES))}
    for name in draw(st.lists(st.sampled_from(
        ["text", "source", "image_url", "id", "name", "input", "tool_use_id", "content",
         "thinking", "cache_control"]), max_size=4)):  # fmt: skip
        block[name] = draw(json_values)
    return block


@st.composite
def messages(draw: st.DrawFn) -> Any:
    content = draw(st.one_of(st.text(max_size=30), st.lists(blocks(), max_size=3), json_values))
    message: dict[str, Any] = {"role": draw(st.sampled_from(ROLES)), "content": content}
    if draw(st.booleans()):
        message["tool_calls"] = draw(json_values)
    if draw(st.booleans()):
        message["tool_call_id"] = draw(json_values)
    return message


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=200))  # not JSON at all
    if kind == 1:
        return orjson.dumps(draw(json_values))  # JSON, wrong shape
    body: dict[str, Any] = {
        "model": draw(st.one_of(st.sampled_from(MODELS), json_values)),
        "messages": draw(st.one_of(st.lists(messages(), max_size=3), json_values)),
    }
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5)):
        body[name] = draw(json_values)
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(-5, 64))
    body["stream"] = draw(st.booleans())
    return orjson.dumps(body)
