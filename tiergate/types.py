"""The one internal request/response model every wire format translates to and from.

Why one model: a client speaking OpenAI can be answered by an Anthropic upstream and vice versa.
Each wire format is a pair of pure translate functions to and from these types, so adding a
format never touches routing, cost or storage.

Semantics follow the Anthropic Messages API where the two formats differ, because it is the
richer of the two (content blocks, thinking, split cache usage):
- ``system`` is kept apart from ``messages``; OpenAI ``system``/``developer`` messages fold into it.
- ``Message.role`` is ``user`` or ``assistant``, or ``system`` for an instruction placed inside
  the conversation (Anthropic's mid-conversation system messages); OpenAI ``tool`` messages
  become ``ToolResultBlock`` inside a user message.
- ``Usage.input_tokens`` *excludes* cache reads and cache writes (as Anthropic reports it);
  OpenAI's ``prompt_tokens`` includes ``cached_tokens`` and is split on decode.
- Stop reasons use Anthropic names: end_turn, max_tokens, stop_sequence, tool_use, refusal,
  pause_turn.

Dataclasses with ``slots`` rather than pydantic models: these objects are built on every
request on the hot path, and validation already happened in the wire decoders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

Role = Literal["user", "assistant", "system"]
# The largest token count a request may ask for (``max_tokens``, ``top_k``): the int32 bound the
# providers' APIs use. Bounded at decode, so that every estimate built on it (a budget's
# reservation, a rate limit's token count) fits the store's 64-bit columns.
MAX_TOKENS = 2**31 - 1
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]


@dataclass(slots=True)
class TextBlock:
    text: str
    cache_control: dict[str, Any] | None = None
    # Anthropic citations on an answer's text (documents with ``citations`` enabled), as sent.
    citations: list[dict[str, Any]] | None = None
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImageBlock:
    """An image given either inline (base64 ``data`` + ``media_type``) or by ``url``."""

    source_type: Literal["base64", "url"]
    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    cache_control: dict[str, Any] | None = None
    type: Literal["image"] = "image"


@dataclass(slots=True)
class DocumentBlock:
    """A document to read (Anthropic ``document``): ``source`` as given, a PDF (``base64`` with
    ``media_type`` application/pdf, or ``url``), plain ``text``, ``content`` blocks or a
    ``file`` id. ``extra`` keeps ``title``, ``context``, ``citations`` and any newer field, so
    an Anthropic upstream receives the block unchanged; other formats take what they can carry
    (``tiergate.wire.documents``)."""

    source: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    cache_control: dict[str, Any] | None = None
    type: Literal["document"] = "document"

    @property
    def source_type(self) -> str:
        return str(self.source.get("type"))

    @property
    def title(self) -> str | None:
        title = self.extra.get("title")
        return title if isinstance(title, str) else None


@dataclass(slots=True)
class OpaqueBlock:
    """An Anthropic content block the core model has no type for (``server_tool_use``,
    ``web_search_tool_result``, ``search_result``, a tool search's ``tool_reference``, ...),
    kept as given: an Anthropic upstream receives it unchanged; other formats cannot carry it
    (a 400), except inside a tool result, where it is shown as its JSON."""

    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("type"))


# What a tool result may hold.
ToolResultPart = TextBlock | ImageBlock | DocumentBlock | OpaqueBlock


@dataclass(slots=True)
class ToolUseBlock:
    id: str
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None
    type: Literal["tool_use"] = "tool_use"


@dataclass(slots=True)
class ToolResultBlock:
    tool_use_id: str
    content: list[ToolResultPart] = field(default_factory=list)
    is_error: bool = False
    cache_control: dict[str, Any] | None = None
    type: Literal["tool_result"] = "tool_result"


@dataclass(slots=True)
class ThinkingBlock:
    thinking: str
    signature: str | None = None
    redacted: bool = False
    type: Literal["thinking"] = "thinking"


ContentBlock = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | OpaqueBlock
)


@dataclass(slots=True)
class Message:
    role: Role
    content: list[ContentBlock]
    # Anthropic message fields besides role and content (a per-turn ``output_config``, ...),
    # forwarded only to an Anthropic upstream.
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    cache_control: dict[str, Any] | None = None
    # Arguments must follow the schema exactly: OpenAI's ``function.strict`` and Anthropic's
    # ``strict`` (strict tool use) alike, so it is carried both ways.
    strict: bool | None = None
    # Anthropic tool fields with no OpenAI counterpart (``eager_input_streaming``,
    # ``input_examples``, ``defer_loading``, ...), kept as given for an Anthropic upstream.
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    """``auto`` (model decides), ``any`` (must call some tool), ``tool`` (must call ``name``),
    ``none`` (must not call tools)."""

    type: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None
    disable_parallel_tool_use: bool = False


def _is_visual(block: ImageBlock | DocumentBlock) -> bool:
    """An image, or a document other than plain text (``ChatRequest.needs_vision``)."""
    return isinstance(block, ImageBlock) or block.source_type != "text"


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    system: list[TextBlock] = field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    # OpenAI ``stream_options.include_usage``: whether a final usage chunk is sent to the client.
    stream_include_usage: bool = False
    # Structured output in OpenAI's spelling (``response_format``: json_object / json_schema),
    # kept as given; Anthropic's ``output_config.format`` / ``output_format`` decode to the
    # json_schema form (``tiergate.wire.structured``).
    response_format: dict[str, Any] | None = None
    # Anthropic ``thinking`` config ({"type": "enabled", "budget_tokens": N}) as given.
    thinking: dict[str, Any] | None = None
    # Parameters the decoder did not map, forwarded only to an upstream of the same format.
    extra: dict[str, Any] = field(default_factory=dict)
    # Which wire format the request arrived in ("openai" / "anthropic"); used to decide whether
    # ``extra`` can be forwarded as-is.
    source_format: str | None = None

    def has_images(self) -> bool:
        return self._has(ImageBlock)

    def has_documents(self) -> bool:
        return self._has(DocumentBlock)

    def needs_vision(self) -> bool:
        """Images, or documents other than plain text (a PDF is read page by page as images
        too): what a text-only model cannot take."""
        return self._has((ImageBlock, DocumentBlock), _is_visual)

    def _has(
        self, kind: type | tuple[type, ...], also: Callable[[Any], bool] | None = None
    ) -> bool:
        for message in self.messages:
            for block in message.content:
                inner = block.content if isinstance(block, ToolResultBlock) else (block,)
                for item in inner:
                    if isinstance(item, kind) and (also is None or also(item)):
                        return True
        return False

    def text(self) -> str:
        """All user-visible text of the request (system + messages), for routing and estimates."""
        parts = [b.text for b in self.system]
        for message in self.messages:
            for block in message.content:
                if isinstance(block, TextBlock):
                    parts.append(block.text)
                elif isinstance(block, ToolResultBlock):
                    parts.extend(b.text for b in block.content if isinstance(b, TextBlock))
        return "\n".join(parts)

    def has_system_messages(self) -> bool:
        return any(m.role == "system" for m in self.messages)

    def with_system_messages_folded(self) -> ChatRequest:
        """This request for a model that takes no ``system`` message inside the conversation:
        each one's text joins the user turn before it, marked as a system reminder (the
        convention Claude models know from Claude Code), and its other fields are dropped."""
        messages: list[Message] = []
        for message in self.messages:
            if message.role != "system":
                messages.append(message)
                continue
            text = "\n\n".join(b.text for b in message.content if isinstance(b, TextBlock))
            if not text:
                continue  # only a per-message setting (effort): nothing to say
            reminder = TextBlock(f"<system-reminder>\n{text}\n</system-reminder>")
            if messages and messages[-1].role == "user":
                last = messages[-1]
                messages[-1] = Message("user", [*last.content, reminder], last.extra)
            else:
                messages.append(Message("user", [reminder]))
        return replace(self, messages=messages)

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return "\n".join(b.text for b in message.content if isinstance(b, TextBlock))
        return ""


@dataclass(slots=True)
class Usage:
    """Token counts as the Anthropic API reports them.

    ``input_tokens`` excludes cache reads and writes. ``cache_creation_input_tokens`` is the
    total of cache writes; ``cache_creation_5m`` / ``cache_creation_1h`` split it by TTL when the
    upstream reports the split (when it does not, the whole amount counts as 5-minute writes).

    Price modifiers and fees, as the answer reports them: ``service_tier`` (OpenAI's top-level
    ``service_tier``, Anthropic's ``usage.service_tier``), ``speed`` (Anthropic's fast mode),
    ``inference_geo`` (Anthropic's
    ``usage.inference_geo``) and server-tool calls (Anthropic's ``usage.server_tool_use``).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m: int | None = None
    cache_creation_1h: int | None = None
    # Of ``output_tokens``, those spent reasoning, where the upstream says (OpenAI's
    # ``reasoning_tokens``); informational, already counted and priced in ``output_tokens``.
    reasoning_tokens: int = 0
    service_tier: str | None = None
    speed: str | None = None
    inference_geo: str | None = None
    web_search_requests: int = 0
    web_fetch_requests: int = 0
    code_execution_requests: int = 0

    def total_input(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def touches_cache(self) -> bool:
        """Whether any cache read or write was reported (most requests: none)."""
        return bool(
            self.cache_read_input_tokens
            or self.cache_creation_input_tokens
            or self.cache_creation_5m
            or self.cache_creation_1h
        )

    def has_modifiers(self) -> bool:
        """Whether anything beyond plain token counts was reported (most requests: no)."""
        return bool(
            self.service_tier
            or self.speed
            or self.inference_geo
            or self.web_search_requests
            or self.web_fetch_requests
            or self.code_execution_requests
        )

    def server_tool_calls(self) -> dict[str, int]:
        """Server-tool calls by the catalog's tool names, those made only."""
        calls = {
            "web_search": self.web_search_requests,
            "web_fetch": self.web_fetch_requests,
            "code_execution": self.code_execution_requests,
        }
        return {name: n for name, n in calls.items() if n}

    def cache_writes_by_ttl(self) -> tuple[int, int]:
        """(5-minute, 1-hour) cache write tokens. Writes the split does not account for (no
        split, or an empty or partial one from an Anthropic-compatible server) count as
        5-minute writes, never as free."""
        if self.cache_creation_5m is None and self.cache_creation_1h is None:
            return self.cache_creation_input_tokens, 0
        five, hour = self.cache_creation_5m or 0, self.cache_creation_1h or 0
        return five + max(0, self.cache_creation_input_tokens - five - hour), hour

    def overlay(self, final: Usage) -> Usage:
        """Stream usage: ``final`` (from the closing event) holds totals, but upstreams leave
        fields they reported at the start at zero; those keep this object's values."""
        return Usage(
            input_tokens=final.input_tokens or self.input_tokens,
            output_tokens=final.output_tokens or self.output_tokens,
            cache_creation_input_tokens=final.cache_creation_input_tokens
            or self.cache_creation_input_tokens,
            cache_read_input_tokens=final.cache_read_input_tokens or self.cache_read_input_tokens,
            cache_creation_5m=self.cache_creation_5m
            if final.cache_creation_5m is None
            else final.cache_creation_5m,
            cache_creation_1h=self.cache_creation_1h
            if final.cache_creation_1h is None
            else final.cache_creation_1h,
            reasoning_tokens=final.reasoning_tokens or self.reasoning_tokens,
            service_tier=final.service_tier or self.service_tier,
            speed=final.speed or self.speed,
            inference_geo=final.inference_geo or self.inference_geo,
            web_search_requests=final.web_search_requests or self.web_search_requests,
            web_fetch_requests=final.web_fetch_requests or self.web_fetch_requests,
            code_execution_requests=final.code_execution_requests or self.code_execution_requests,
        )

    def add(self, other: Usage) -> Usage:
        five, hour = self.cache_writes_by_ttl()
        o_five, o_hour = other.cache_writes_by_ttl()
        split = self.cache_creation_1h is not None or other.cache_creation_1h is not None
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cache_creation_5m=five + o_five if split else None,
            cache_creation_1h=hour + o_hour if split else None,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            # Modifiers belong to one answer; a sum of attempts keeps them only when they agree.
            service_tier=self.service_tier if self.service_tier == other.service_tier else None,
            speed=self.speed if self.speed == other.speed else None,
            inference_geo=self.inference_geo if self.inference_geo == other.inference_geo else None,
            web_search_requests=self.web_search_requests + other.web_search_requests,
            web_fetch_requests=self.web_fetch_requests + other.web_fetch_requests,
            code_execution_requests=self.code_execution_requests + other.code_execution_requests,
        )


@dataclass(slots=True)
class TokenLogprob:
    """One output token's log probability and, when asked for, the likeliest tokens at its
    position (``top``). OpenAI-format upstreams report them on request (``logprobs``,
    ``top_logprobs``); the Anthropic Messages API has no such field, so its answers carry none.
    ``bytes``: the token's UTF-8 bytes, which matter when a token is part of a character."""

    token: str
    logprob: float
    bytes: list[int] | None = None
    top: list[TokenLogprob] = field(default_factory=list)


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    # OpenAI's ``message.refusal`` (a model declining, e.g. under structured outputs). The same
    # text is in ``content`` too, for formats that have no such field.
    refusal: str | None = None
    # The answer's tokens with their log probabilities (of the refusal's tokens when
    # ``refusal`` is set); None when the upstream reported none.
    logprobs: list[TokenLogprob] | None = None

    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    def tool_uses(self) -> list[ToolUseBlock]:
        return [b for b in self.content if isinstance(b, ToolUseBlock)]


# ---------------------------------------------------------------------------------------------
# Stream events. The sequence is always:
#   MessageStart, then per content block: BlockStart, BlockDelta*, BlockStop,
#   then MessageDelta (stop reason + final usage), then MessageStop.
# Block indexes are 0-based and contiguous. Usage in MessageStart holds what is known up front
# (input and cache tokens); MessageDelta.usage holds the final totals (upstreams that report
# usage only at the end fill everything there). Encoders turn these into either format's SSE.
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class BlockStart:
    index: int
    # An empty TextBlock / ThinkingBlock, or a ToolUseBlock with id + name and empty input.
    block: ContentBlock


@dataclass(slots=True)
class BlockDelta:
    index: int
    # "refusal": text of a refusal as OpenAI streams it (``delta.refusal``); formats without
    # such a field show it as text.
    # "citation": one Anthropic citation of the text block (its JSON), which formats without
    # citations leave out.
    kind: Literal["text", "input_json", "thinking", "signature", "refusal", "citation"]
    value: str
    # The tokens of a text or refusal delta with their log probabilities, when the upstream
    # reported them (see ``TokenLogprob``).
    logprobs: list[TokenLogprob] | None = None


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(frozen=True, slots=True)
class StreamCost:
    """What a streamed request cost when its final usage goes out: ``usd`` None is unpriced;
    ``estimated``: some usage was estimated (the upstream did not report it)."""

    usd: Decimal | None
    estimated: bool = False


@dataclass(slots=True)
class MessageDelta:
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    # Set by the gateway before the event is encoded, so the client sees the cost.
    cost: StreamCost | None = None


@dataclass(slots=True)
class MessageStop:
    pass


StreamEvent = MessageStart | BlockStart | BlockDelta | BlockStop | MessageDelta | MessageStop
