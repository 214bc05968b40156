"""Documents and system messages in OpenAI terms, structured output both ways, and the fold of
system messages for models that take none inside the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.openai_checks import check_chat_request
from tiergate.errors import InvalidRequest
from tiergate.types import (
    ChatRequest,
    DocumentBlock,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from tiergate.wire import structured
from tiergate.wire.openai import FORMAT as OPENAI

PDF = DocumentBlock(
    {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}, {"title": "a.pdf"}
)


def _openai(*messages: Message) -> dict[str, Any]:
    body = OPENAI.encode_request(ChatRequest("m", list(messages)), "gpt-4o")
    assert check_chat_request(body) is None, check_chat_request(body)
    return body


def test_pdf_in_a_tool_result_follows_the_tool_message() -> None:
    body = _openai(
        Message("user", [TextBlock("read it")]),
        Message("assistant", [ToolUseBlock("t1", "Read", {"file_path": "a.pdf"})]),
        Message("user", [ToolResultBlock("t1", [PDF])]),
    )
    tool, attached = body["messages"][2:]
    assert tool == {
        "role": "tool",
        "tool_call_id": "t1",
        "content": "(the result is attached to the next user message)",
    }
    data_url = "data:application/pdf;base64,JVBERi0="
    assert attached["content"] == [
        {"type": "file", "file": {"filename": "a.pdf", "file_data": data_url}}
    ]


def test_system_message_kept_in_place_and_effort_only_one_dropped() -> None:
    body = _openai(
        Message("user", [TextBlock("q")]),
        Message("system", [TextBlock("be brief")]),
        Message("assistant", [TextBlock("a")]),
        Message("user", [TextBlock("q2")]),
        Message("system", [], {"output_config": {"effort": "low"}}),
    )
    assert [m["role"] for m in body["messages"]] == ["user", "system", "assistant", "user"]


def test_fold_puts_system_text_in_the_user_turn_before_it() -> None:
    request = ChatRequest(
        "m",
        [
            Message("user", [TextBlock("q")]),
            Message("system", [TextBlock("be brief")], {"output_config": {"effort": "low"}}),
            Message("system", [], {"output_config": {"effort": "high"}}),
        ],
    )
    folded = request.with_system_messages_folded()
    assert [m.role for m in folded.messages] == ["user"]
    assert folded.messages[0].content[1] == TextBlock(
        "<system-reminder>\nbe brief\n</system-reminder>"
    )
    assert request.has_system_messages() and not folded.has_system_messages()


@pytest.mark.parametrize(
    "source",
    [{"type": "url", "url": "https://x.test/a.pdf"}, {"type": "file", "file_id": "file_1"}],
)
def test_pdf_without_data_cannot_go_to_openai(source: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="base64"):
        _openai(Message("user", [DocumentBlock(source)]))


def test_structured_output_maps_both_ways() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    legacy = {"output_format": {"type": "json_schema", "schema": schema}}
    core = structured.decode_anthropic(legacy)
    spec = {"name": "output", "schema": schema, "strict": True}
    assert core == {"type": "json_schema", "json_schema": spec}
    assert structured.anthropic_format(core) == {"type": "json_schema", "schema": schema}
    assert structured.anthropic_format({"type": "text"}) is None
    with pytest.raises(InvalidRequest, match="json_schema"):
        structured.anthropic_format({"type": "json_object"})
    with pytest.raises(InvalidRequest):
        structured.anthropic_format({"type": "yaml"})


def test_text_document_reaches_the_local_model_as_text() -> None:
    from tiergate.providers.local import to_chat_messages

    note = DocumentBlock(
        {"type": "text", "media_type": "text/plain", "data": "jam"}, {"title": "n.txt"}
    )
    request = ChatRequest("local/smollm2-135m", [Message("user", [note, TextBlock("word?")])])
    assert to_chat_messages(request) == [{"role": "user", "content": "n.txt\njam\nword?"}]
