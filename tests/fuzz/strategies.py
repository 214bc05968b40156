"""Hypothesis strategies for malformed (and occasionally valid) chat requests.

Bodies are built from the real field names of both formats with values of any JSON type, so
the fuzzer reaches the validation code behind each field instead of failing at the first.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

FIELDS = [
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "stop_sequences",
    "system",
    "metadata",
    "response_format",
    "thinking",
    "n",
    "user",
    "parallel_tool_calls",
]
ROLES = ["user", "assistant", "system", "developer", "tool", "function", "wizard", "", None]
BLOCK_TYPES = ["text", "image", "image_url", "tool_use", "tool_result", "thinking", "document", 7]
MODELS = [
    "gpt-5.4",
    "claude-haiku-4-5",
    "auto",
    "",
    "nope",
    "local/smollm2-135m",
    "gpt\x00-5.4",
    "m" * 3000,
]
# Integers at the edges of the store's columns and of what providers accept.
EDGES = [0, 1, -1, 2**31 - 1, 2**31, 2**53, 2**63 - 1, 2**63, -(2**63)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.sampled_from(EDGES),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.just("\x00"),
)
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
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "text",
                    "source",
                    "image_url",
                    "id",
                    "name",
                    "input",
                    "tool_use_id",
                    "content",
                    "thinking",
                    "cache_control",
                ]
            ),
            max_size=4,
        )
    ):
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


def nested(depth: int, model: str) -> bytes:
    """A chat body whose tool schema nests ``depth`` objects (past what orjson writes: built as
    text)."""
    schema = b'{"type":"object","properties":{"a":' * depth + b"{}" + b"}}" * depth
    return (
        b'{"model":"' + model.encode() + b'","max_tokens":5,"messages":[{"role":"user",'
        b'"content":"x"}],"tools":[{"name":"f","input_schema":' + schema + b',"type":"function",'
        b'"function":{"name":"f","parameters":' + schema + b"}}]}"
    )


@st.composite
def bodies(draw: st.DrawFn, max_nesting: int = 600) -> bytes:
    """A body; ``max_nesting`` bounds the tool schemas nested past what orjson can write
    (callers that parse and re-encode a body keep it under 127)."""
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return draw(st.binary(max_size=200))  # not JSON at all
    if kind == 1:
        return orjson.dumps(draw(json_values))  # JSON, wrong shape
    if kind == 2:
        return nested(draw(st.integers(1, max_nesting)), draw(st.sampled_from(MODELS[:2])))
    body: dict[str, Any] = {
        "model": draw(st.one_of(st.sampled_from(MODELS), json_values)),
        "messages": draw(st.one_of(st.lists(messages(), max_size=3), json_values)),
    }
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5)):
        body[name] = draw(json_values)
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.one_of(st.integers(-5, 64), st.sampled_from(EDGES)))
    body["stream"] = draw(st.booleans())
    return orjson.dumps(body)


# Ids as clients put them in paths and queries: any text, NUL included (percent-encoded).
ids = st.one_of(st.text(max_size=20), st.just("\x00"), st.just("x\x00y"), st.just("é"))
ID_PATHS = [
    "GET /v1/batches/{}",
    "POST /v1/batches/{}/cancel",
    "GET /v1/files/{}",
    "GET /v1/files/{}/content",
    "DELETE /v1/files/{}",
    "GET /v1/messages/batches/{}",
    "GET /v1/messages/batches/{}/results",
    "POST /v1/messages/batches/{}/cancel",
    "GET /v1/messages/batches?after_id={}",
    "GET /v1/batches?after={}",
    "GET /admin/keys/{}/spend",
    "DELETE /admin/keys/{}",
    "GET /admin/keys?tenant={}",
    "GET /v1/tiergate/report?tenant={}",
    "GET /v1/tiergate/report?route={}",
    "GET /v1/tiergate/report?since={}",
]
# Authorization headers: the gateway's keys, none, garbage, non-ASCII bytes.
AUTH_KINDS = ["budget", "rate", "plain", "admin", "none", "garbage"]
garbage_auth = st.one_of(
    # Any byte a header value may hold (0x7f makes the HTTP parser refuse the request).
    st.binary(max_size=30).map(lambda b: b"Bearer x" + bytes(c for c in b if 0x21 <= c != 0x7F)),
    st.sampled_from([b"Bearer \xff\xfe", "Bearer tg-\u00e9".encode(), b"Bearer", b"Basic x"]),
)
