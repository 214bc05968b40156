"""The Anthropic Messages API as clients use it today, through tiergate, with the official SDKs:
mid-conversation system messages, documents, every tool field, the client's headers,
structured output both ways, model ids newer than the catalog (families, dated snapshots), and
capability and size checks made before anything is sent. The fakes check each upstream
request against the provider's API reference (``tests/fakes/*_checks.py``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.script import FakeUsage
from tests.fakes.upstream import FakeUpstream
from tests.support.log_rows import logged
from tests.support.pdf import one_page_pdf

PDF = base64.b64encode(one_page_pdf("The secret word is marmalade.")).decode()
SCHEMA = {
    "type": "object",
    "properties": {"word": {"type": "string"}},
    "required": ["word"],
    "additionalProperties": False,
}


def ant(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)


def oai(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)


@pytest.fixture
def gateway(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> str:
    """haiku 4.5 and Opus 4.8 on the Anthropic fake, every other ``claude-*`` id there too (a
    family); gpt-5.4 and deepseek-v4-flash (text only) on the OpenAI fake; ``local`` (no
    tools, 8K context) never called: the checks stop requests before it."""
    ant_up = {"provider": "anthropic", "base_url": anthropic_upstream.url, "api_key": "sk-a"}
    oai_up = {"provider": "openai", "base_url": openai_upstream.url + "/v1", "api_key": "sk-o"}
    return make_gateway(
        deployments=[
            {"name": "haiku", "model": "claude-haiku-4-5", **ant_up},
            {"name": "opus48", "model": "claude-opus-4-8", **ant_up},
            {"name": "gpt", "model": "gpt-5.4", **oai_up},
            {"name": "ds", "model": "deepseek-v4-flash", **oai_up},
            {"name": "opus-on-openai", "model": "claude-opus-4-6", **oai_up},
            {"name": "local", "model": "local/smollm2-135m", "provider": "local"},
            {"name": "claude-family", "model": "claude-*", **ant_up},
        ],
        retry={"max_retries": 0, "breaker_failures": 1000},
    )


def _messages(upstream: FakeUpstream) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = upstream.last.json["messages"]
    return messages


# --- 1. mid-conversation system messages ---------------------------------------------------

CONVERSATION: list[Any] = [
    {"role": "user", "content": "Tell me about Lyon."},
    {"role": "system", "content": [{"type": "text", "text": "Answer in French from now on."}]},
]


def test_system_message_passed_through_to_a_model_that_takes_it(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    message = ant(gateway).messages.create(
        model="claude-opus-4-8", max_tokens=50, messages=CONVERSATION
    )
    assert message.content[0].type == "text"
    assert _messages(anthropic_upstream) == [
        {"role": "user", "content": [{"type": "text", "text": "Tell me about Lyon."}]},
        {"role": "system", "content": [{"type": "text", "text": "Answer in French from now on."}]},
    ]


def test_effort_only_system_message_kept_with_its_output_config(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="claude-opus-4-8",
        max_tokens=50,
        messages=[
            {"role": "user", "content": "plan it"},
            {"role": "assistant", "content": "1. a 2. b"},
            {"role": "user", "content": "now summarise"},
            {"role": "system", "content": [], "output_config": {"effort": "low"}},  # type: ignore[misc,list-item]
        ],
    )
    assert _messages(anthropic_upstream)[-1] == {
        "role": "system",
        "content": [],
        "output_config": {"effort": "low"},
    }


def test_system_message_folded_for_a_model_without_them(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(model="claude-haiku-4-5", max_tokens=50, messages=CONVERSATION)
    assert _messages(anthropic_upstream) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Tell me about Lyon."},
                {
                    "type": "text",
                    "text": "<system-reminder>\nAnswer in French from now on.\n</system-reminder>",
                },
            ],
        }
    ]


def test_system_message_in_place_for_an_openai_upstream(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(model="gpt-5.4", max_tokens=50, messages=CONVERSATION)
    assert openai_upstream.last.json["messages"] == [
        {"role": "user", "content": "Tell me about Lyon."},
        {"role": "system", "content": "Answer in French from now on."},
    ]


def test_system_message_first_is_a_400_in_anthropic_shape(gateway: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant(gateway).messages.create(
            model="claude-opus-4-8",
            max_tokens=50,
            messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "y"}],  # type: ignore[misc,list-item]
        )
    assert "messages[0].role" in str(caught.value)


# --- 1. documents -------------------------------------------------------------------------

PDF_DOCUMENT = {
    "type": "document",
    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
    "title": "report.pdf",
    "citations": {"enabled": True},
}


def _ask(document: dict[str, Any]) -> list[Any]:
    return [{"role": "user", "content": [document, {"type": "text", "text": "The word?"}]}]


def test_pdf_document_passed_through_to_anthropic(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=_ask(PDF_DOCUMENT)
    )
    assert _messages(anthropic_upstream)[0]["content"][0] == PDF_DOCUMENT


def test_pdf_document_becomes_a_file_part_for_openai(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply("marmalade")
    message = ant(gateway).messages.create(
        model="gpt-5.4", max_tokens=50, messages=_ask(PDF_DOCUMENT)
    )
    assert message.content[0].type == "text" and message.content[0].text == "marmalade"
    assert openai_upstream.last.json["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "file",
                    "file": {
                        "filename": "report.pdf",
                        "file_data": f"data:application/pdf;base64,{PDF}",
                    },
                },
                {"type": "text", "text": "The word?"},
            ],
        }
    ]


def test_text_document_becomes_text_for_openai(gateway: str, openai_upstream: FakeUpstream) -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "The word is jam."},
        "title": "notes.txt",
    }
    ant(gateway).messages.create(model="gpt-5.4", max_tokens=50, messages=_ask(document))
    assert openai_upstream.last.json["messages"][0]["content"] == (
        "notes.txt\n\nThe word is jam.The word?"
    )


def test_pdf_by_url_to_openai_is_a_400_before_anything_is_sent(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    document = {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant(gateway).messages.create(model="gpt-5.4", max_tokens=50, messages=_ask(document))
    assert "base64" in str(caught.value)
    assert openai_upstream.requests == []


def test_openai_client_pdf_file_part_reaches_anthropic_as_a_document(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    oai(gateway).chat.completions.create(
        model="claude-haiku-4-5",
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "filename": "report.pdf",
                            "file_data": f"data:application/pdf;base64,{PDF}",
                        },
                    },
                    {"type": "text", "text": "The word?"},
                ],
            }
        ],
    )
    assert _messages(anthropic_upstream)[0]["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        "title": "report.pdf",
    }


def test_pdf_to_a_text_only_model_is_a_400(gateway: str, openai_upstream: FakeUpstream) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant(gateway).messages.create(
            model="deepseek-v4-flash", max_tokens=50, messages=_ask(PDF_DOCUMENT)
        )
    assert "text only" in str(caught.value)
    assert openai_upstream.requests == []


# --- 1. tool fields, headers ------------------------------------------------------------------

TOOL = {
    "name": "lookup",
    "description": "Look a word up",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    "strict": True,
    "eager_input_streaming": True,
    "input_examples": [{"q": "jam"}],
    "defer_loading": False,
    "cache_control": {"type": "ephemeral"},
}


def test_every_tool_field_kept_for_anthropic(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="claude-haiku-4-5",
        max_tokens=50,
        tools=[TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "look up jam"}],
    )
    assert anthropic_upstream.last.json["tools"] == [TOOL]


def test_strict_tool_to_openai_keeps_strict_drops_anthropic_only_fields(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="gpt-5.4",
        max_tokens=50,
        tools=[TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "look up jam"}],
    )
    assert openai_upstream.last.json["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up",
                "parameters": TOOL["input_schema"],
                "strict": True,
            },
        }
    ]


def test_openai_strict_function_reaches_anthropic_as_strict_tool(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    oai(gateway).chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "look up jam"}],
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": SCHEMA, "strict": True},
            }
        ],
    )
    assert anthropic_upstream.last.json["tools"] == [
        {"name": "lookup", "input_schema": SCHEMA, "strict": True}
    ]


def test_anthropic_headers_go_to_anthropic_upstreams_only(
    gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    headers = {"anthropic-beta": "context-1m-2025-08-07", "anthropic-version": "2023-06-01"}
    client = ant(gateway)
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=5,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={**headers, "anthropic-version": "2099-01-01"},
    )
    assert anthropic_upstream.last.header("anthropic-version") == "2099-01-01"
    assert anthropic_upstream.last.header("anthropic-beta") == "context-1m-2025-08-07"
    client.messages.create(
        model="gpt-5.4",
        max_tokens=5,
        messages=[{"role": "user", "content": "x"}],
        extra_headers=headers,
    )
    sent = openai_upstream.last
    assert sent.header("anthropic-beta") is None and sent.header("anthropic-version") is None


# --- 1. structured output, both ways ------------------------------------------------------


def test_openai_json_schema_reaches_anthropic_as_output_config(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply('{"word": "jam"}')
    completion = oai(gateway).chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "a word"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "word", "schema": SCHEMA, "strict": True},
        },
    )
    assert json.loads(completion.choices[0].message.content or "") == {"word": "jam"}
    assert anthropic_upstream.last.json["output_config"] == {
        "format": {"type": "json_schema", "schema": SCHEMA}
    }


def test_anthropic_output_config_reaches_openai_as_response_format(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="gpt-5.4",
        max_tokens=50,
        messages=[{"role": "user", "content": "a word"}],
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}, "effort": "low"},
    )
    assert openai_upstream.last.json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
    }


def test_anthropic_output_config_passed_through_to_anthropic(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    config = {"format": {"type": "json_schema", "schema": SCHEMA}, "effort": "low"}
    ant(gateway).messages.create(
        model="claude-opus-4-8",
        max_tokens=50,
        messages=[{"role": "user", "content": "a word"}],
        output_config=config,  # type: ignore[arg-type]
    )
    assert anthropic_upstream.last.json["output_config"] == config


def test_json_object_to_anthropic_is_refused_not_dropped(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai(gateway).chat.completions.create(
            model="claude-haiku-4-5",
            messages=[{"role": "user", "content": "json please"}],
            response_format={"type": "json_object"},
        )
    assert "json_schema" in str(caught.value)
    assert anthropic_upstream.requests == []


# --- 3. model ids the catalog has not seen ------------------------------------------------


def test_unknown_claude_id_is_forwarded_logged_and_unpriced(
    gateway: str, anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    anthropic_upstream.reply("new model here", usage=FakeUsage(input_tokens=100, output_tokens=10))
    raw = ant(gateway).messages.with_raw_response.create(
        model="claude-sonnet-9-9", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().content[0].text == "new model here"  # type: ignore[union-attr]
    assert anthropic_upstream.last.json["model"] == "claude-sonnet-9-9"
    assert raw.headers["x-tiergate-cost-usd"] == "unpriced"
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-9-9"
    row, attempts = logged(tmp_path, raw.headers["x-tiergate-request-id"])
    assert row[0] == 200 and row[2:5] == (100, 10, None)  # tokens kept, cost unknown (not 0)
    assert attempts[0][2] == "claude-sonnet-9-9"


def test_catalog_id_without_deployment_served_by_family_and_priced(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("ok", usage=FakeUsage(input_tokens=1000, output_tokens=100))
    raw = ant(gateway).messages.with_raw_response.create(
        model="claude-opus-5-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert anthropic_upstream.last.json["model"] == "claude-opus-5-5"
    assert raw.headers["x-tiergate-cost-usd"] == "0.006"  # 1000 * $4 + 100 * $20 per million


def test_dated_snapshot_id_resolves_to_its_entry(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("ok", usage=FakeUsage(input_tokens=1000, output_tokens=100))
    raw = ant(gateway).messages.with_raw_response.create(
        model="claude-opus-4-8-20260528",
        max_tokens=20,
        messages=[{"role": "user", "content": "hi"}],
    )
    assert raw.headers["x-tiergate-model"] == "claude-opus-4-8"
    assert raw.headers["x-tiergate-cost-usd"] == "0.0075"  # 1000 * $5 + 100 * $25 per million


def test_id_outside_every_family_is_still_404(gateway: str) -> None:
    with pytest.raises(openai.NotFoundError):
        oai(gateway).chat.completions.create(
            model="mistral-huge", messages=[{"role": "user", "content": "hi"}]
        )


# --- 4. capability and size checks on direct requests -----------------------------------------


def test_tools_to_a_model_without_tool_use_is_a_400(gateway: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai(gateway).chat.completions.create(
            model="local/smollm2-135m",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
        )
    assert "does not support tools" in str(caught.value)


def test_image_to_a_text_only_model_is_a_400_before_the_upstream(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant(gateway).messages.create(
            model="deepseek-v4-flash",
            max_tokens=20,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                        {"type": "text", "text": "what is it?"},
                    ],
                }
            ],
        )
    assert caught.value.status_code == 400
    assert openai_upstream.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_over_the_context_is_a_400_before_anything_is_streamed(
    gateway: str, stream: bool
) -> None:
    big = "word " * 40_000  # ~50K tokens at 4 characters a token; the local model has 8K
    with pytest.raises(openai.BadRequestError) as caught:
        oai(gateway).chat.completions.create(
            model="local/smollm2-135m",
            messages=[{"role": "user", "content": big}],
            stream=stream,
        )
    assert "context window" in str(caught.value)


CITATION = {
    "type": "page_location",
    "cited_text": "The secret word is marmalade.",
    "document_index": 0,
    "document_title": "report.pdf",
    "start_page_number": 1,
    "end_page_number": 2,
}


@pytest.mark.parametrize("stream", [False, True])
def test_citations_reach_the_anthropic_client(
    gateway: str, anthropic_upstream: FakeUpstream, stream: bool
) -> None:
    anthropic_upstream.reply("The word is marmalade.", citations=(CITATION,))
    client = ant(gateway)
    if stream:
        with client.messages.stream(
            model="claude-haiku-4-5", max_tokens=50, messages=_ask(PDF_DOCUMENT)
        ) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=_ask(PDF_DOCUMENT)
        )
    block = message.content[0]
    assert block.type == "text" and block.text == "The word is marmalade."
    assert [c.model_dump(exclude_none=True) for c in block.citations or []] == [CITATION]


# --- 1. blocks the core model has no type for -----------------------------------------------

SEARCH_HISTORY: list[Any] = [
    {"role": "user", "content": "find the lookup tool"},
    {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "ToolSearch",
                "input": {"query": "lookup"},
            }
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "tool_reference", "tool_name": "lookup"}],
            }
        ],
    },
]


def test_tool_reference_in_a_tool_result_passed_through_to_anthropic(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    """Claude Code's ToolSearch answers with ``tool_reference`` blocks: kept as given."""
    ant(gateway).messages.create(model="claude-haiku-4-5", max_tokens=50, messages=SEARCH_HISTORY)
    assert _messages(anthropic_upstream)[2]["content"][0]["content"] == [
        {"type": "tool_reference", "tool_name": "lookup"}
    ]


def test_tool_reference_shown_as_json_to_openai(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(model="gpt-5.4", max_tokens=50, messages=SEARCH_HISTORY)
    tool = openai_upstream.last.json["messages"][2]
    assert tool["role"] == "tool"
    assert json.loads(tool["content"]) == {"type": "tool_reference", "tool_name": "lookup"}


def test_server_tool_block_to_openai_is_a_400(gateway: str, openai_upstream: FakeUpstream) -> None:
    history = [
        {"role": "user", "content": "search the web"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "x"},
                }
            ],
        },
        {"role": "user", "content": "go on"},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant(gateway).messages.create(model="gpt-5.4", max_tokens=50, messages=history)  # type: ignore[arg-type]
    assert "server_tool_use" in str(caught.value)
    assert openai_upstream.requests == []


def test_streamed_citations_stay_out_of_other_formats_text(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    for _ in range(2):
        anthropic_upstream.reply("The word is marmalade.", citations=(CITATION,))
    chat = oai(gateway).chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "w?"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in chat if c.choices)
    assert text == "The word is marmalade."
    with oai(gateway).responses.stream(model="claude-haiku-4-5", input="w?") as events:
        response = events.get_final_response()
    assert response.output_text == "The word is marmalade."


def test_refusals_made_while_encoding_are_400s_for_streams_too(
    gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.BadRequestError):
        oai(gateway).chat.completions.create(
            model="claude-haiku-4-5",
            messages=[{"role": "user", "content": "json please"}],
            response_format={"type": "json_object"},
            stream=True,
        )
    document = {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}
    with pytest.raises(anthropic.BadRequestError):
        ant(gateway).messages.create(
            model="gpt-5.4", max_tokens=50, messages=_ask(document), stream=True
        )
    assert anthropic_upstream.requests == [] and openai_upstream.requests == []
