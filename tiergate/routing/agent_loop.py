"""Agent-loop routing: per turn, the strong model plans and the cheap one runs the tool loop.

An agent (Claude Code, an Agents SDK app) sends the whole conversation on every turn. What the
turn is follows from its last message: a user instruction (text, no tool results) asks for a
plan, so the strong model answers; tool results ask for the next step inside the loop, so the
cheap model answers, with the strong one behind it as a ladder rung when the cheap answer fails
a check (a tool call whose arguments do not match the tool's input schema, or a configured
validator). The loop goes up to the strong model for a step that looks hard: a streak of tool
errors, many tool-result tokens in the turn, or cheap answers escalated twice in a row.

Prompt caching is per model: moving a conversation to the other model writes its prefix into
that model's cache (at the cache-write price) instead of reading it. ``decide`` counts that: it
moves only when the saving over the next ``horizon_turns`` turns beats the switch by a margin
(hysteresis), so a conversation does not flip-flop between models.

``decide`` is pure (turn, memory, prices in; a decision out). The policy around it keeps a
small in-process memory per conversation (which model answered last and how many prompt tokens
each model has cached, fed back through ``Plan.observe``). The memory is a hint for cost, never
for correctness: a replica without it decides as for a cold cache.

The conversation id: the caller's ``x-tiergate-conversation`` header or ``metadata.
conversation_id``, else ``conv_`` + a hash of the first user message (and the system prompt's
first 200 characters), which is the same on every turn of one conversation.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from tiergate.catalog import Catalog, ModelInfo
from tiergate.routing.capability import Selector
from tiergate.routing.plan import (
    LocalCheck,
    Plan,
    RoutingState,
    Tier,
    Validator,
    Verdict,
    clean_reason,
)
from tiergate.tokens import estimate_input_tokens
from tiergate.types import ChatRequest, ChatResponse, TextBlock, ToolResultBlock, Usage

_PLAIN_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
CACHE_TTL_SECONDS = 300.0  # Anthropic's default (5-minute) cache lifetime
_MAX_CONVERSATIONS = 10_000


@dataclass(frozen=True, slots=True)
class Turn:
    """What the policy reads off one request of an agent conversation."""

    conversation: str
    kind: Literal["planning", "tool_loop"]
    prompt_tokens: int
    error_streak: int  # trailing user turns whose tool results include an error
    tool_result_tokens: int  # tokens of tool results in this turn


@dataclass(slots=True)
class Conversation:
    """What one conversation's past turns left behind: which model answered last, the prompt
    tokens each model has cached (and when), and cheap answers escalated in a row."""

    last_model: str | None = None
    cached: dict[str, tuple[int, float]] = field(default_factory=dict)
    escalations: int = 0

    def warm_tokens(self, model_id: str, now: float) -> int:
        tokens, at = self.cached.get(model_id, (0, 0.0))
        return tokens if now - at < CACHE_TTL_SECONDS else 0


@dataclass(frozen=True, slots=True)
class LoopSettings:
    horizon_turns: int = 8
    hysteresis: float = 0.2
    error_streak: int = 2
    max_tool_result_tokens: int = 20_000
    escalations_before_stay: int = 2
    output_tokens: int = 400  # expected output of a loop turn, for the cost estimate


@dataclass(frozen=True, slots=True)
class Decision:
    model: Literal["strong", "cheap"]
    reason: str


def read_turn(request: ChatRequest) -> Turn:
    """The turn's kind, error streak and sizes, from the request alone."""
    results: list[list[ToolResultBlock]] = []
    for message in reversed(request.messages):
        if message.role == "assistant":
            continue
        found = [b for b in message.content if isinstance(b, ToolResultBlock)]
        if not found:
            break
        results.append(found)
    streak = 0
    for found in results:
        if not any(b.is_error for b in found):
            break
        streak += 1
    last = results[0] if results else []
    result_chars = sum(len(p.text) for b in last for p in b.content if isinstance(p, TextBlock))
    return Turn(
        conversation=conversation_id(request),
        kind="tool_loop" if results else "planning",
        prompt_tokens=estimate_input_tokens(request),
        error_streak=streak,
        tool_result_tokens=result_chars // 4,
    )


def conversation_id(request: ChatRequest) -> str:
    given = request.metadata.get("conversation_id")
    if isinstance(given, str) and given:
        if _PLAIN_ID.fullmatch(given):
            return given
        # It goes into a response header and the log: anything else is hashed, not trusted.
        return "conv_" + hashlib.sha256(given.encode()).hexdigest()[:24]
    first = next((m for m in request.messages if m.role == "user"), None)
    digest = hashlib.sha256()
    digest.update("".join(b.text for b in request.system)[:200].encode())
    if first is not None:
        for block in first.content:
            if isinstance(block, TextBlock):
                digest.update(block.text.encode())
    return "conv_" + digest.hexdigest()[:24]


def turn_usd(model: ModelInfo, prompt_tokens: int, warm_tokens: int, output_tokens: int) -> Decimal:
    """One turn's cost: the warm prefix read from cache, the rest written to it, the output."""
    if model.pricing is None:
        return Decimal(0)
    rates = model.pricing.standard
    warm = min(warm_tokens, prompt_tokens)
    return (
        warm * rates.cache_read
        + (prompt_tokens - warm) * rates.cache_write_5m
        + output_tokens * rates.output
    )


def decide(
    turn: Turn,
    memory: Conversation,
    strong: ModelInfo,
    cheap: ModelInfo,
    settings: LoopSettings,
    now: float,
) -> Decision:
    """Strong for planning and hard steps; cheap inside the loop when it pays, caching counted."""
    if turn.kind == "planning":
        return Decision("strong", "planning turn (new user instruction)")
    if turn.error_streak >= settings.error_streak:
        return Decision("strong", f"hard step: {turn.error_streak} tool errors in a row")
    if turn.tool_result_tokens > settings.max_tool_result_tokens:
        return Decision("strong", f"hard step: {turn.tool_result_tokens} tool-result tokens")
    if memory.escalations >= settings.escalations_before_stay:
        return Decision("strong", f"cheap answers escalated {memory.escalations} times in a row")
    if memory.last_model != strong.id:  # already on cheap, or nothing cached anywhere
        return Decision("cheap", "tool-loop turn")
    prompt, out, horizon = turn.prompt_tokens, settings.output_tokens, settings.horizon_turns
    # The next ``horizon`` turns on each model: the first pays for what that model has not
    # cached (written at the cache-write price), the rest read the prefix from cache.
    on_strong = horizon * turn_usd(strong, prompt, prompt, out)
    cheap_warm = memory.warm_tokens(cheap.id, now)
    switch = turn_usd(cheap, prompt, cheap_warm, out)
    on_cheap = switch + (horizon - 1) * turn_usd(cheap, prompt, prompt, out)
    saving = on_strong - on_cheap
    rewrite = max(prompt - cheap_warm, 0)
    if saving > Decimal(str(settings.hysteresis)) * on_strong:
        return Decision(
            "cheap",
            f"tool-loop turn; switch pays: ${_usd(saving)} saved over {horizon} turns "
            f"after re-caching {rewrite} tokens",
        )
    return Decision(
        "strong",
        f"tool-loop turn; stays on strong: re-caching {rewrite} tokens leaves "
        f"${_usd(saving)} over {horizon} turns, under the {settings.hysteresis:g} margin",
    )


def _usd(value: Decimal) -> str:
    return f"{value:.6f}"


class ConversationMemory:
    """Bounded, in-process: the least recently seen conversation goes first."""

    def __init__(self, size: int = _MAX_CONVERSATIONS) -> None:
        self._size = size
        self._items: OrderedDict[str, Conversation] = OrderedDict()

    def get(self, conversation: str) -> Conversation:
        item = self._items.get(conversation)
        if item is None:
            return Conversation()
        self._items.move_to_end(conversation)
        return item

    def put(self, conversation: str, item: Conversation) -> None:
        self._items[conversation] = item
        self._items.move_to_end(conversation)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class ToolArgumentsValid(LocalCheck):
    """Fails an answer whose tool call names no offered tool or whose arguments do not match
    the tool's input schema: the cheap model's most common way of getting a loop step wrong."""

    name = "tool_args"

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        import jsonschema

        tools = {t.name: t for t in request.tools}
        for call in response.tool_uses():
            tool = tools.get(call.name)
            if tool is None:
                return Verdict(False, f"call of unknown tool {call.name}")
            try:
                jsonschema.validate(call.input, tool.input_schema)
            except jsonschema.ValidationError as exc:
                return Verdict(False, f"{call.name} arguments invalid: {exc.message[:120]}")
            except jsonschema.SchemaError:
                continue  # the caller's schema is broken; the arguments are not at fault
        return Verdict(True)


class AgentLoopPolicy:
    def __init__(
        self,
        name: str,
        strong: ModelInfo,
        cheap: ModelInfo,
        validators: tuple[Validator, ...],
        settings: LoopSettings,
        selector: Selector,
    ) -> None:
        self.name = name
        self.strong = strong
        self.cheap = cheap
        self.settings = settings
        self._validators = (ToolArgumentsValid(), *validators)
        self._selector = selector
        self.memory = ConversationMemory()

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        turn = read_turn(request)
        now = time.monotonic()
        memory = self.memory.get(turn.conversation)
        decision = decide(turn, memory, self.strong, self.cheap, self.settings, now)
        strong = Tier(self.strong, state.deployments_for(self.strong.id))
        if decision.model == "strong" or not state.reachable(self.cheap.id):
            tiers: tuple[Tier, ...] = (strong,)
        else:
            tiers = (Tier(self.cheap, state.deployments_for(self.cheap.id)), strong)
        return Plan(
            tiers=tiers,
            reason=clean_reason(f"agent loop: {decision.reason}"),
            policy=self.name,
            validators=self._validators if len(tiers) > 1 else (),
            fallback=self._selector,
            trace_id=turn.conversation,
            observe=self._observer(turn, decision, now),
            baseline=self.strong,
        )

    def _observer(self, turn: Turn, decision: Decision, now: float) -> Any:
        def observe(model_id: str, usage: Usage | None) -> None:
            item = self.memory.get(turn.conversation)
            prompt = usage.total_input() if usage is not None else turn.prompt_tokens
            item.cached[model_id] = (prompt, now)
            if turn.kind == "planning":
                item.escalations = 0  # a new instruction: the cheap model gets another go
            elif decision.model == "cheap":
                # The cheap rung wrote its cache too, even when its answer was turned down.
                item.cached[self.cheap.id] = (prompt, now)
                item.escalations = item.escalations + 1 if model_id == self.strong.id else 0
            item.last_model = model_id
            self.memory.put(turn.conversation, item)

        return observe
