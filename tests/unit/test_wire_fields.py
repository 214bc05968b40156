"""The field checks the serving decoders share (``wire/fields.py``): one rule, every format."""

from __future__ import annotations

from typing import Any

import pytest

from tiergate.errors import InvalidRequest
from tiergate.types import ImageBlock, Tool, ToolChoice
from tiergate.wire import anthropic_decode, openai_decode, responses_decode
from tiergate.wire.fields import (
    function_tool,
    image_from_url,
    number,
    optional,
    positive,
    tool_choice,
)

USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("data:image/png;base64,AAAA", ImageBlock("base64", media_type="image/png", data="AAAA")),
        ("https://example.test/a.png", ImageBlock("url", url="https://example.test/a.png")),
        ("http://example.test/a.png", ImageBlock("url", url="http://example.test/a.png")),
    ],
)
def test_image_urls(url: str, expected: ImageBlock) -> None:
    assert image_from_url(url, "x") == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/png,AAAA", "data URLs must look like data:image/png;base64,..."),
        ("data:text/plain;base64,AAAA", "data URLs must look like data:image/png;base64,..."),
        ("data:image/png;base64", "data URLs must look like data:image/png;base64,..."),
        ("ftp://example.test/a.png", "must be an http(s) URL or a data: URL"),
    ],
)
def test_bad_image_urls_name_the_field(url: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        image_from_url(url, "messages[0].content[1].image_url")
    assert caught.value.param == "messages[0].content[1].image_url"
    assert str(caught.value.message) == f"messages[0].content[1].image_url: {message}"


@pytest.mark.parametrize("value", [True, "1", [1]])
def test_a_number_is_not_a_bool_or_a_string(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="temperature: must be a number"):
        number({"temperature": value}, "temperature")
    assert number({"temperature": 1}, "temperature") == 1.0
    assert number({}, "temperature") is None


@pytest.mark.parametrize("value", [True, 0, -1, 1.5, "2", 2**31, 2**63 - 1])
def test_positive_integers_only(value: Any) -> None:
    """Up to the int32 bound: a larger count overflowed a limited key's counters."""
    with pytest.raises(InvalidRequest, match="n: must be an integer from 1 to 2147483647"):
        positive({"n": value}, "n")
    assert positive({"n": 3}, "n") == 3
    assert positive({"n": 2**31 - 1}, "n") == 2**31 - 1
    assert positive({"n": None}, "n") is None


def test_optional_keeps_bools_and_integers_apart() -> None:
    assert optional({"s": True}, "s", bool, "a boolean") is True
    assert optional({"s": None}, "s", bool, "a boolean") is None
    with pytest.raises(InvalidRequest, match="s: must be a boolean"):
        optional({"s": 1}, "s", bool, "a boolean")
    with pytest.raises(InvalidRequest, match="k: must be an integer"):
        optional({"k": False}, "k", int, "an integer")


def test_every_decoder_refuses_a_bad_image_url_the_same_way() -> None:
    bad = "data:image/png,AAAA"
    openai_body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": bad}]}],
    }
    responses_body = {
        "model": "m",
        "input": [{"role": "user", "content": [{"type": "input_image", "image_url": bad}]}],
    }
    for decode, body, param in [
        (openai_decode.decode_request, openai_body, "messages[0].content[0].image_url"),
        (responses_decode.decode_request, responses_body, "input[0].content[0].image_url"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            decode(body)
        assert caught.value.param == param
        assert "data URLs must look like data:image/png;base64,..." in caught.value.message


@pytest.mark.parametrize(
    ("decode", "body"),
    [
        (openai_decode.decode_request, {"model": "m", "messages": USER, "max_tokens": True}),
        (responses_decode.decode_request, {"model": "m", "input": "hi", "temperature": "hot"}),
        (
            anthropic_decode.decode_request,
            {"model": "m", "messages": USER, "max_tokens": 5, "top_p": False},
        ),
    ],
)
def test_every_decoder_refuses_a_bool_for_a_number(decode: Any, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(body)
    assert caught.value.status == 400 and caught.value.param in body


def test_function_tool_names_the_field_under_where() -> None:
    assert function_tool({"name": "f"}, "t") == Tool(
        "f", None, {"type": "object", "properties": {}}, strict=None
    )
    for spec, param in [
        ({"name": ""}, "t.name"),
        ({"name": "f", "description": 1}, "t.description"),
        ({"name": "f", "parameters": "x"}, "t.parameters"),
        ({"name": "f", "strict": "yes"}, "t.strict"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            function_tool(spec, "t")
        assert caught.value.param == param


def test_tool_choice_with_parallel_calls() -> None:
    assert tool_choice(None, None, None, "x") is None
    assert tool_choice(None, False, None, "x") == ToolChoice("auto", disable_parallel_tool_use=True)
    assert tool_choice("none", False, None, "x") == ToolChoice("none")
    assert tool_choice("required", True, None, "x") == ToolChoice("any")
    assert tool_choice({}, False, "f", "x") == ToolChoice(
        "tool", name="f", disable_parallel_tool_use=True
    )
    with pytest.raises(InvalidRequest, match="tool_choice: pick one") as caught:
        tool_choice({}, None, None, "pick one")
    assert caught.value.param == "tool_choice"


def test_both_openai_decoders_refuse_a_bad_tool_the_same_way() -> None:
    tool = {"name": "f", "parameters": "not a schema"}
    for decode, body, param in [
        (
            openai_decode.decode_request,
            {"model": "m", "messages": USER, "tools": [{"type": "function", "function": tool}]},
            "tools[0].function.parameters",
        ),
        (
            responses_decode.decode_request,
            {"model": "m", "input": "hi", "tools": [{"type": "function", **tool}]},
            "tools[0].parameters",
        ),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            decode(body)
        assert caught.value.param == param
        assert caught.value.message.endswith("must be a JSON Schema object")
