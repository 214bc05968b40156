"""A Message Batches body read in pieces gives what reading it whole gave: the same requests,
the same params text, and the same refusal, however the body is cut."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tiergate.errors import GatewayError, InvalidRequest, PayloadTooLarge
from tiergate.wire.anthropic_batches import BatchReader
from tiergate.wire.nesting import MAX_DEPTH

CUTS = (1, 2, 5, 7, 64, 1 << 20)


def read(body: bytes, cut: int, max_requests: int = 100) -> list[tuple[str, str, str]]:
    reader = BatchReader(max_requests)
    items: list[tuple[str, str, str]] = []
    for start in range(0, len(body), cut):
        items += reader.feed(body[start : start + cut])
    return items + reader.finish()


def params(text: Any = "hi", **more: Any) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": text}],
        **more,
    }


def body(*requests: Any, **top: Any) -> bytes:
    return orjson.dumps({"requests": list(requests), **top})


def entry(custom_id: str, text: Any = "hi", **more: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "params": params(text, **more)}


@pytest.mark.parametrize("cut", CUTS)
def test_requests_come_out_checked_with_their_params_as_sent(cut: int) -> None:
    sent = [
        entry("a", 'caf\u00e9 \U0001f600 \\ " \n'),
        entry("b", temperature=0.30000000000000004, top_k=3),
        entry("c", [{"type": "text", "text": "x"}], metadata={"user_id": "u"}),
    ]
    raw = body(*sent, other={"ignored": [1, 2]})
    assert read(raw, cut) == [
        (e["custom_id"], orjson.dumps(e["params"]).decode(), "claude-haiku-4-5") for e in sent
    ]


def refusal(raw: bytes, cut: int, max_requests: int = 100) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        read(raw, cut, max_requests)
    return caught.value


deep: Any = []
for _ in range(MAX_DEPTH):
    deep = [deep]


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize(
    ("raw", "kind", "said"),
    [
        (b"", InvalidRequest, "request body is not valid JSON"),
        (b'{"requests": [', InvalidRequest, "request body is not valid JSON"),
        (body(entry("a")) + b" x", InvalidRequest, "request body is not valid JSON"),
        # a syntax error late outranks a bad request early, as when parsed whole
        (body(5)[:-1] + b",}", InvalidRequest, "request body is not valid JSON"),
        (b" [1, 2]", InvalidRequest, "request body must be a JSON object"),
        (b'{"x": 1}', InvalidRequest, "requests: required, a non-empty array"),
        (b'{"requests": "x"}', InvalidRequest, "requests: required, a non-empty array"),
        (body(), InvalidRequest, "requests: required, a non-empty array"),
        (body(entry("a"), 5), InvalidRequest, "requests[1]: must be an object"),
        (body(entry("a"), entry("a")), InvalidRequest, "requests[1].custom_id: 'a' is used"),
        (body(entry("a b")), InvalidRequest, "requests[0].custom_id: required"),
        (body({"custom_id": "a"}), InvalidRequest, "requests[0].params: "),
        (body(entry("a", stream=True)), InvalidRequest, "requests[0].params.stream"),
        # too deep anywhere outranks a bad request before it
        (body(5, entry("d", metadata={"x": deep})), InvalidRequest, "JSON nested more than"),
        # lone surrogates are not JSON text a whole-body parse accepts
        (body(entry("a", "\\ud800")).replace(b"\\\\", b"\\"), InvalidRequest, "request body"),
        (body(entry("a", "x\\ud83dy")).replace(b"\\\\", b"\\"), InvalidRequest, "request body"),
        (body(entry("a", "\\ude00")).replace(b"\\\\", b"\\"), InvalidRequest, "request body"),
    ],
)
def test_a_refusal_is_the_one_a_whole_body_check_gave(
    raw: bytes, kind: type[GatewayError], said: str, cut: int
) -> None:
    refused = refusal(raw, cut)
    assert isinstance(refused, kind) and refused.message.startswith(said), refused.message


@pytest.mark.parametrize("cut", CUTS)
def test_escapes_that_only_look_like_surrogates_pass(cut: int) -> None:
    # a pair written as escapes, and an escaped backslash before "ud800" (plain text)
    pair = body(entry("a", "\\ud83d\\ude00")).replace(b"\\\\", b"\\")
    assert orjson.loads(read(pair, cut)[0][1])["messages"][0]["content"] == "\U0001f600"
    for run in range(1, 70):  # escaped backslashes wherever the pieces are cut
        text = "\\" * run + "ud800"
        [(_, sent, _)] = read(body(entry("a", text)), cut)
        assert orjson.loads(sent)["messages"][0]["content"] == text


@pytest.mark.parametrize("cut", CUTS)
def test_too_many_requests_are_counted_in_full_and_outrank_a_bad_one(cut: int) -> None:
    raw = body(*[entry(f"r{i}") for i in range(5)], 7)
    refused = refusal(raw, cut, max_requests=3)
    assert isinstance(refused, PayloadTooLarge)
    assert refused.message == "requests: 6 requests; a batch holds at most 3"
    assert len(read(raw[: raw.rindex(b",")] + b"]}", cut, max_requests=5)) == 5


def test_nothing_more_is_handed_out_once_the_job_is_refused() -> None:
    reader = BatchReader(100)
    raw = body(entry("a"), 5, *[entry(f"r{i}") for i in range(50)])
    cut = raw.index(b",5,")  # the first request complete, the bad one not yet
    assert [i[0] for i in reader.feed(raw[:cut])] == ["a"]
    assert reader.feed(raw[cut:]) == []
    with pytest.raises(InvalidRequest, match=r"requests\[1\]: must be an object"):
        reader.finish()
