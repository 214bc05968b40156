"""The agent-loop route: which model each turn of an agent conversation gets, and why."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.routing.builders import CATALOG, policies
from tiergate.errors import ConfigError
from tiergate.routing.agent_loop import (
    AgentLoopPolicy,
    Conversation,
    LoopSettings,
    ToolArgumentsValid,
    conversation_id,
    decide,
    read_turn,
)
from tiergate.routing.multicall import MultiCallError, parse_review, parse_subtasks
from tiergate.types import (
    ChatRequest,
    ChatResponse,
    Message,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)

STRONG = CATALOG.resolve("claude-opus-4-7")
CHEAP = CATALOG.resolve("claude-haiku-4-5")
WRITE = Tool(
    "Write",
    "write a file",
    {
        "type": "object",
        "required": ["file_path", "content"],
        "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
    },
)


def conversation(*results: bool, padding: int = 0, task: str = "build it") -> ChatRequest:
    """A user instruction, then one assistant tool call and tool result per entry of
    ``results`` (True: the tool failed)."""
    messages = [Message("user", [TextBlock(task + " " + "x" * padding)])]
    for i, failed in enumerate(results):
        messages.append(Message("assistant", [ToolUseBlock(f"t{i}", "Write", {})]))
        result = ToolResultBlock(f"t{i}", [TextBlock("error" if failed else "ok")], failed)
        messages.append(Message("user", [result]))
    return ChatRequest(model="agent", messages=messages, tools=[WRITE], max_tokens=256)


def route(**settings: Any) -> AgentLoopPolicy:
    table, _ = policies(
        {"agent": {"agent_loop": {"strong": STRONG.id, "cheap": CHEAP.id, **settings}}}
    )
    policy = table["agent"]
    assert isinstance(policy, AgentLoopPolicy)
    return policy


def models(policy: AgentLoopPolicy, request: ChatRequest) -> list[str]:
    _, state = policies({})
    plan = policy(request, CATALOG, state)
    return [t.model.id for t in plan.tiers]


def test_turn_kinds_and_error_streaks() -> None:
    assert read_turn(conversation()).kind == "planning"
    loop = read_turn(conversation(False, True, True))
    assert loop.kind == "tool_loop" and loop.error_streak == 2
    assert read_turn(conversation(True, False)).error_streak == 0
    # Every turn of one conversation has its id; another instruction, another id.
    assert conversation_id(conversation()) == conversation_id(conversation(False, False))
    assert conversation_id(conversation()) != conversation_id(conversation(task="other"))
    named = conversation()
    named.metadata["conversation_id"] = "session-7"
    assert conversation_id(named) == "session-7"
    # An id that could not go into a header as it is (it is returned in one) is hashed.
    named.metadata["conversation_id"] = "a\r\nx-evil: 1"
    hashed = conversation_id(named)
    assert re.fullmatch(r"conv_[0-9a-f]{24}", hashed) and hashed == conversation_id(named)


def test_planning_on_strong_loop_on_cheap_with_strong_behind_it() -> None:
    policy = route()
    first = conversation()
    plan = policy(first, CATALOG, policies({})[1])
    assert [t.model.id for t in plan.tiers] == [STRONG.id]
    assert plan.reason.startswith("agent loop: planning turn")
    assert plan.trace_id == conversation_id(first) and plan.baseline is STRONG
    assert plan.observe is not None
    plan.observe(STRONG.id, Usage(input_tokens=30))
    loop = policy(conversation(False), CATALOG, policies({})[1])
    assert [t.model.id for t in loop.tiers] == [CHEAP.id, STRONG.id]
    assert [v.name for v in loop.validators] == ["tool_args"]
    # A step that looks hard goes to the strong model alone.
    assert models(policy, conversation(False, True, True)) == [STRONG.id]


def test_switching_counts_the_cache_rewrite_and_holds_back() -> None:
    """Right after a strong planning turn with a long cached prefix, moving to the cheap
    model re-writes that prefix; with a short horizon and a wide margin the saving does
    not cover it, so the turn stays on the strong model (and says so)."""
    turn = read_turn(conversation(False, padding=400_000))
    memory = Conversation(last_model=STRONG.id, cached={STRONG.id: (turn.prompt_tokens, 0.0)})
    stay = decide(turn, memory, STRONG, CHEAP, LoopSettings(horizon_turns=1, hysteresis=0.9), 1)
    assert stay.model == "strong" and "re-caching" in stay.reason
    go = decide(turn, memory, STRONG, CHEAP, LoopSettings(horizon_turns=6), 1.0)
    assert go.model == "cheap" and "switch pays" in go.reason
    # Once on the cheap model it stays there: no flip back for cost.
    memory.last_model = CHEAP.id
    assert decide(turn, memory, STRONG, CHEAP, LoopSettings(horizon_turns=1), 1).model == "cheap"


def test_escalations_in_a_row_keep_the_loop_on_strong() -> None:
    policy = route(escalations_before_stay=2)
    _, state = policies({})
    for _ in range(2):
        plan = policy(conversation(False), CATALOG, state)
        assert plan.observe is not None and len(plan.tiers) == 2
        plan.observe(STRONG.id, None)  # the cheap answer failed its check: strong answered
    plan = policy(conversation(False), CATALOG, state)
    assert [t.model.id for t in plan.tiers] == [STRONG.id]
    assert "escalated 2 times" in plan.reason
    # Until the next instruction: then the loop goes back to the cheap model.
    planning = policy(conversation(), CATALOG, state)
    assert planning.observe is not None
    planning.observe(STRONG.id, None)
    assert models(policy, conversation(False)) == [CHEAP.id, STRONG.id]


def test_tool_arguments_validator() -> None:
    request = conversation(False)
    check = ToolArgumentsValid()

    def answer(name: str, arguments: dict[str, Any]) -> ChatResponse:
        return ChatResponse(
            id="r", model="m", content=[ToolUseBlock("c", name, arguments)], usage=Usage()
        )

    ok = asyncio.run(check.check(request, answer("Write", {"file_path": "a", "content": "b"})))
    assert ok.ok
    bad = asyncio.run(check.check(request, answer("Write", {"file_path": "a"})))
    assert not bad.ok and "content" in bad.reason
    assert not asyncio.run(check.check(request, answer("Delete", {}))).ok


def test_route_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"routes.agent.agent_loop.cheap: unknown model"):
        policies({"agent": {"agent_loop": {"strong": STRONG.id, "cheap": "nope"}}})
    with pytest.raises(ConfigError, match="`type: fanout`"):
        policies(
            {"agent": {"type": "fanout", "agent_loop": {"strong": STRONG.id, "cheap": CHEAP.id}}}
        )
    with pytest.raises(ConfigError, match=r"fanout\.workers"):
        policies({"f": {"fanout": {"planner": STRONG.id, "workers": []}}})


def test_planner_and_reviewer_answers_are_validated() -> None:
    plan = parse_subtasks('```json\n{"subtasks": [{"id": "a", "prompt": "do a"}]}\n```', 4)
    assert [(s.id, s.prompt) for s in plan] == [("a", "do a")]
    with pytest.raises(MultiCallError, match="schema"):
        parse_subtasks('{"subtasks": [{"id": "a"}]}', 4)
    with pytest.raises(MultiCallError, match="allows 1"):
        parse_subtasks('{"subtasks": [{"prompt": "a"}, {"prompt": "b"}]}', 1)
    with pytest.raises(MultiCallError, match="not JSON"):
        parse_subtasks("sure, here is a plan", 4)
    assert parse_review('{"winner": 2}', 3, "pick") == (2, None)
    assert parse_review('{"winner": "1", "answer": "x"}', 3, "refine") == (1, "x")
    with pytest.raises(MultiCallError, match="between 1 and 3"):
        parse_review('{"winner": 4}', 3, "pick")
