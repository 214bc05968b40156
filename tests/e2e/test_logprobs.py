"""Log probabilities through the gateway, as the ``openai`` SDK asks for and reads them."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_sdk_clients import oai
from tests.fakes.upstream import FakeUpstream

QUESTION: Any = [{"role": "user", "content": "classify"}]


def test_logprobs_come_back_from_an_openai_upstream(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply("billing question")
    completion = oai(gateway).chat.completions.create(
        model="gpt-5.4", messages=QUESTION, logprobs=True, top_logprobs=2
    )
    assert openai_upstream.last.json["logprobs"] is True
    assert openai_upstream.last.json["top_logprobs"] == 2
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert [t.token for t in logprobs.content] == ["billing", " question"]
    first = logprobs.content[0]
    assert first.logprob == -0.01
    assert first.bytes == list(b"billing")
    assert [t.token for t in first.top_logprobs] == ["billing", "billing~1"]
    assert [t.logprob for t in first.top_logprobs] == [-0.01, -1.01]


def test_streamed_logprobs_ride_with_their_text(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply("billing question")
    stream = oai(gateway).chat.completions.create(
        model="gpt-5.4", messages=QUESTION, logprobs=True, top_logprobs=1, stream=True
    )
    pairs = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                assert choice.logprobs is not None and choice.logprobs.content is not None
                pairs.append((choice.delta.content, [t.token for t in choice.logprobs.content]))
                assert len(choice.logprobs.content[0].top_logprobs) == 1
    assert pairs == [("billing", ["billing"]), (" question", [" question"])]


def test_no_logprobs_unless_asked(gateway: str, openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("billing question")
    completion = oai(gateway).chat.completions.create(model="gpt-5.4", messages=QUESTION)
    assert "logprobs" not in openai_upstream.last.json
    assert completion.choices[0].logprobs is None


def test_a_claude_answer_has_none(gateway: str, anthropic_upstream: FakeUpstream) -> None:
    """The Messages API has no logprobs: the request is answered, with ``logprobs`` null."""
    anthropic_upstream.reply("billing question")
    completion = oai(gateway).chat.completions.create(
        model="claude-haiku-4-5", messages=QUESTION, logprobs=True, max_tokens=20
    )
    assert completion.choices[0].message.content == "billing question"
    assert completion.choices[0].logprobs is None
    assert "logprobs" not in anthropic_upstream.last.json
