"""Automatic cache breakpoints: placement rules (order, TTLs, minimums, limits, hands off)."""

from __future__ import annotations

from tiergate.catalog import load_catalog
from tiergate.cost import apply_cache_breakpoints, plan_cache_breakpoints
from tiergate.cost.caching import count_breakpoints
from tiergate.types import (
    ChatRequest,
    Message,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)

CATALOG = load_catalog()
SONNET = CATALOG.resolve("claude-sonnet-4-6")  # minimum 1,024 tokens
HAIKU = CATALOG.resolve("claude-haiku-4-5")  # minimum 4,096 tokens
FIVE = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


def words(tokens: int) -> str:
    return "abcd" * tokens  # 4 characters a token in the estimate


def user(*texts: str) -> Message:
    return Message("user", [TextBlock(t) for t in texts])


def request(
    *, tools: int = 0, system: int = 0, messages: list[Message] | None = None
) -> ChatRequest:
    return ChatRequest(
        model="claude-sonnet-4-6",
        messages=messages or [user("hi")],
        system=[TextBlock(words(system))] if system else [],
        tools=[Tool(f"t{i}", words(tools)) for i in range(2)] if tools else [],
    )


def test_long_system_prompt_gets_one_breakpoint_and_the_input_is_untouched() -> None:
    req = request(system=2000)
    out = apply_cache_breakpoints(req, SONNET)
    assert out is not req
    assert out.system[0].cache_control == FIVE
    assert req.system[0].cache_control is None  # the caller's request is not mutated
    assert out.messages[0].content[0].cache_control is None  # type: ignore[union-attr]
    assert count_breakpoints(out) == 1


def test_short_prefix_is_skipped_not_pretended() -> None:
    req = request(system=1000)  # ~1,000 tokens < Sonnet's 1,024
    assert apply_cache_breakpoints(req, SONNET) is req
    long_enough = request(system=3000)  # caches on Sonnet, but not Haiku (4,096)
    assert plan_cache_breakpoints(long_enough, SONNET)
    assert apply_cache_breakpoints(long_enough, HAIKU) is long_enough


def test_tools_then_system_with_one_hour_ttl_before_five_minute_conversation() -> None:
    history = [user(words(500)), Message("assistant", [TextBlock("ok")]), user("question")]
    req = request(tools=600, system=3000, messages=history)
    plan = plan_cache_breakpoints(req, SONNET, ttl="1h")
    assert [(bp.where, bp.ttl) for bp in plan] == [
        ("tools", "1h"),
        ("system", "1h"),
        ("history", "5m"),
    ]
    assert [bp.prefix_tokens for bp in plan] == sorted(bp.prefix_tokens for bp in plan)
    out = apply_cache_breakpoints(req, SONNET, ttl="1h")
    assert out.tools[-1].cache_control == HOUR and out.tools[0].cache_control is None
    assert out.system[-1].cache_control == HOUR
    assert out.messages[1].content[-1].cache_control == FIVE  # type: ignore[union-attr]
    assert out.messages[2].content[0].cache_control is None  # type: ignore[union-attr]
    assert count_breakpoints(out) == 3


def test_tools_below_minimum_alone_but_tools_plus_system_above() -> None:
    req = request(tools=100, system=2000)
    assert [bp.where for bp in plan_cache_breakpoints(req, SONNET)] == ["system"]


def test_long_leading_document_before_the_question() -> None:
    req = request(messages=[user(words(5000), "What does clause 7 say?")])
    plan = plan_cache_breakpoints(req, HAIKU)
    assert [(bp.where, bp.index, bp.block) for bp in plan] == [("leading_context", 0, 0)]
    out = apply_cache_breakpoints(req, HAIKU)
    assert out.messages[0].content[0].cache_control == FIVE  # type: ignore[union-attr]
    assert out.messages[0].content[1].cache_control is None  # type: ignore[union-attr]


def test_never_more_than_four_and_never_on_thinking() -> None:
    history = [
        user(words(2000)),
        Message(
            "assistant",
            [
                ToolUseBlock("call_1", "lookup", {"q": "x"}),
            ],
        ),
        Message("user", [ToolResultBlock("call_1", [TextBlock(words(100))])]),
        Message("assistant", [TextBlock("answer"), ThinkingBlock("thought")]),
        user(words(2000), "and now?"),
    ]
    req = request(tools=600, system=2000, messages=history)
    plan = plan_cache_breakpoints(req, SONNET)
    assert [bp.where for bp in plan] == ["tools", "system", "history", "leading_context"]
    history_bp = plan[2]
    assert (history_bp.index, history_bp.block) == (3, 0)  # the text, not the thinking block
    out = apply_cache_breakpoints(req, SONNET)
    assert count_breakpoints(out) == 4


def test_requests_that_set_their_own_breakpoints_are_left_alone() -> None:
    req = request(system=3000, messages=[user(words(3000), "q")])
    req.messages[0].content[0].cache_control = FIVE  # type: ignore[union-attr]
    assert apply_cache_breakpoints(req, SONNET) is req
    nested = request(
        system=3000,
        messages=[Message("user", [ToolResultBlock("c", [TextBlock("x", cache_control=FIVE)])])],
    )
    assert apply_cache_breakpoints(nested, SONNET) is nested
    automatic = request(system=3000)
    automatic.extra["cache_control"] = FIVE  # Anthropic's top-level automatic caching
    assert apply_cache_breakpoints(automatic, SONNET) is automatic


def test_only_anthropic_models_with_prompt_caching() -> None:
    req = request(system=5000)
    for name in ("gpt-5.4", "gemini-3.1-flash-lite", "local/smollm2-135m", "minimax-m2.7"):
        assert apply_cache_breakpoints(req, CATALOG.resolve(name)) is req
