"""Log probabilities: OpenAI's wire shape to core tokens and back, plain and streamed."""

from __future__ import annotations

from typing import Any

import orjson

from tiergate.executor.replay import response_events
from tiergate.types import BlockDelta, ChatResponse, MessageStart, TextBlock, TokenLogprob
from tiergate.wire.openai import FORMAT
from tiergate.wire.openai_logprobs import decode_logprobs, encode_logprobs

ENTRY = {
    "token": "Hi",
    "logprob": -0.25,
    "bytes": [72, 105],
    "top_logprobs": [
        {"token": "Hi", "logprob": -0.25, "bytes": [72, 105]},
        {"token": "Hello", "logprob": -1.5, "bytes": None},
    ],
}
TOKEN = TokenLogprob(
    "Hi", -0.25, [72, 105], [TokenLogprob("Hi", -0.25, [72, 105]), TokenLogprob("Hello", -1.5)]
)


def completion(message: dict[str, Any], logprobs: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "gpt-5.4",
        "choices": [
            {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": "stop"}
        ],
    }


def test_decode_and_encode_round_trip() -> None:
    wire = {"content": [ENTRY], "refusal": None}
    assert decode_logprobs(wire) == [TOKEN]
    assert encode_logprobs([TOKEN]) == wire


def test_entries_that_cannot_be_read_are_skipped_not_fatal() -> None:
    wire = {
        "content": [
            ENTRY,
            "junk",
            {"token": "x"},  # no logprob
            {"token": "y", "logprob": True},  # a bool is not a number
            {"token": "z", "logprob": -1, "bytes": "not a list", "top_logprobs": "nope"},
        ]
    }
    assert decode_logprobs(wire) == [TOKEN, TokenLogprob("z", -1.0, None, [])]
    assert decode_logprobs({"content": None}) is None
    assert decode_logprobs([ENTRY]) is None


def test_answer_from_an_openai_upstream_keeps_them() -> None:
    response = FORMAT.decode_response(
        completion({"role": "assistant", "content": "Hi"}, {"content": [ENTRY], "refusal": None})
    )
    assert response.logprobs == [TOKEN]
    encoded = FORMAT.encode_response(response, "auto")
    assert encoded["choices"][0]["logprobs"]["content"][0]["token"] == "Hi"
    plain = FORMAT.decode_response(completion({"role": "assistant", "content": "Hi"}, None))
    assert plain.logprobs is None
    assert FORMAT.encode_response(plain, "auto")["choices"][0]["logprobs"] is None


def test_a_refusal_keeps_its_own_logprobs() -> None:
    response = FORMAT.decode_response(
        completion(
            {"role": "assistant", "content": None, "refusal": "Hi"},
            {"content": None, "refusal": [ENTRY]},
        )
    )
    assert response.refusal == "Hi" and response.logprobs == [TOKEN]
    logprobs = FORMAT.encode_response(response, "auto")["choices"][0]["logprobs"]
    assert logprobs["content"] is None and logprobs["refusal"][0]["token"] == "Hi"


def chunk(delta: dict[str, Any], logprobs: Any = None) -> bytes:
    payload = {
        "id": "chatcmpl-1",
        "model": "gpt-5.4",
        "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": None}],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def test_streamed_text_deltas_carry_their_tokens_through_both_halves() -> None:
    decoder = FORMAT.stream_decoder()
    events = decoder.feed(
        chunk({"role": "assistant", "content": ""})
        + chunk({"content": "Hi"}, {"content": [ENTRY], "refusal": None})
        + chunk({"content": "!"})
    )
    deltas = [e for e in events if isinstance(e, BlockDelta)]
    assert [(d.value, d.logprobs) for d in deltas] == [("Hi", [TOKEN]), ("!", None)]
    encoder = FORMAT.stream_encoder("auto", False)
    frames = [encoder.encode(e) for e in events]
    payloads = [orjson.loads(f[len(b"data: ") :]) for f in frames if f]
    sent = [
        (p["choices"][0]["delta"].get("content"), p["choices"][0]["logprobs"]) for p in payloads
    ]
    assert sent[1] == ("Hi", encode_logprobs([TOKEN]))
    assert sent[2] == ("!", None)


def test_a_replayed_answer_streams_its_logprobs_with_the_text() -> None:
    """A streaming request answered by a buffered ladder tier gets the tier's logprobs."""
    response = ChatResponse("r", "gpt-5.4", [TextBlock("Hi")], logprobs=[TOKEN])
    events = response_events(response)
    assert isinstance(events[0], MessageStart)
    deltas = [e for e in events if isinstance(e, BlockDelta)]
    assert [(d.value, d.logprobs) for d in deltas] == [("Hi", [TOKEN])]
