"""What the cheap-worker routes cost against all-on-strong, at catalog prices.

Two scripted tasks, with token counts as the fake upstreams report them in the tests:

* a 10-step agent task (a Claude Code-like prompt: a 14,000-token system prompt and tools,
  then one instruction, tool calls and tool results; a follow-up instruction at step 6; at
  step 8 the cheap model's tool call fails its schema and the strong model answers that turn
  too). Each turn's model comes from ``tiergate.routing.agent_loop.decide``, the function the
  route runs, with the conversation memory its observer keeps. Prompt caching is simulated
  per model as Anthropic bills it: a model reads the prefix it cached on its previous turn
  and writes the rest, so a switch re-writes the whole prefix onto the other model; those
  writes are reported apart ("switch writes").
  ``blind`` runs the same turns planning-on-strong, loop-on-cheap with caching ignored, to
  show what the cache-aware decision saves; a 40,000-token prefix shows it holding back.
* a fan-out task: a planner call, four worker calls, a composer call, against the same calls
  all on the planner.

    python bench/routing/agent_costs.py [--json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from decimal import Decimal

from tiergate.catalog import ModelInfo, load_catalog
from tiergate.cost import usd_of
from tiergate.routing.agent_loop import Conversation, LoopSettings, Turn, decide
from tiergate.types import Usage

CATALOG = load_catalog()
PREFIX = 14_000  # system prompt and tool definitions
INSTRUCTION = 200
TOOL_RESULT = 1_200
# (kind, output tokens, cheap answer fails its check)
STEPS: list[tuple[str, int, bool]] = [
    ("planning", 600, False),
    ("tool_loop", 250, False),
    ("tool_loop", 250, False),
    ("tool_loop", 250, False),
    ("tool_loop", 250, False),
    ("planning", 500, False),  # a follow-up instruction
    ("tool_loop", 250, False),
    ("tool_loop", 250, True),  # the cheap model's tool call is invalid: escalated
    ("tool_loop", 250, False),
    ("tool_loop", 300, False),
]


@dataclass
class Tally:
    usd: Decimal = Decimal(0)
    switch_write_usd: Decimal = Decimal(0)
    switch_write_tokens: int = 0
    on_cheap: int = 0


def _call(
    model: ModelInfo, prompt: int, out: int, cached: dict[str, int], previous_prompt: int
) -> tuple[Decimal, Decimal, int]:
    """One call's cost; and the cost and tokens of writes beyond what any model would write
    on this turn (the prompt's growth since the previous turn): writes caused by a switch."""
    read = min(cached.get(model.id, 0), prompt)
    write = prompt - read
    cached[model.id] = prompt
    usd = usd_of(Usage(0, out, write, read), model) or Decimal(0)
    extra = max(write - (prompt - previous_prompt), 0)
    rates = model.pricing.standard if model.pricing else None
    extra_usd = (
        extra * (rates.cache_write_5m - rates.cache_read) if rates is not None else Decimal(0)
    )
    return usd, extra_usd, extra


def agent_task(
    strong: ModelInfo, cheap: ModelInfo, strategy: str, prefix: int = PREFIX, horizon: int = 8
) -> Tally:
    """``strategy``: ``strong`` (every turn), ``loop`` (the agent-loop route's decisions) or
    ``blind`` (planning on strong, every loop turn on cheap, caching ignored)."""
    tally = Tally()
    memory = Conversation()
    cached: dict[str, int] = {}
    settings = LoopSettings(horizon_turns=horizon)
    prompt, previous = prefix + INSTRUCTION, 0
    for step, (kind, out, fails) in enumerate(STEPS):
        if step:
            prompt += STEPS[step - 1][1] + (INSTRUCTION if kind == "planning" else TOOL_RESULT)
        turn = Turn("bench", kind, prompt, 0, TOOL_RESULT // 4)  # type: ignore[arg-type]
        if strategy == "loop":
            choice = decide(turn, memory, strong, cheap, settings, 0.0).model
        elif strategy == "blind":
            choice = "strong" if kind == "planning" else "cheap"
        else:
            choice = "strong"
        models = [cheap, strong] if choice == "cheap" and fails else []
        models = models or [cheap if choice == "cheap" else strong]
        for model in models:
            usd, extra_usd, extra = _call(model, prompt, out, cached, previous)
            tally.usd += usd
            tally.switch_write_usd += extra_usd
            tally.switch_write_tokens += extra
        answered = models[-1]
        tally.on_cheap += answered is cheap
        # What the route's observer records (AgentLoopPolicy._observer).
        memory.cached[answered.id] = (prompt, 0.0)
        if choice == "cheap":
            memory.cached[cheap.id] = (prompt, 0.0)
            memory.escalations = memory.escalations + 1 if answered is strong else 0
        memory.last_model = answered.id
        previous = prompt
    return tally


# (role, input tokens, output tokens): a planner, four workers, a composer.
FANOUT = [("planner", 900, 250)] + [("worker", 1_400, 700)] * 4 + [("composer", 3_900, 800)]


def fanout_task(planner: ModelInfo, worker: ModelInfo) -> tuple[Decimal, Decimal]:
    routed = sum(
        (usd_of(Usage(i, o), worker if role == "worker" else planner) or Decimal(0))
        for role, i, o in FANOUT
    )
    everything_on_planner = sum((usd_of(Usage(i, o), planner) or Decimal(0)) for _, i, o in FANOUT)
    return Decimal(routed), Decimal(everything_on_planner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cheap = CATALOG.resolve("claude-haiku-4-5")
    results: list[dict[str, object]] = []
    for strong_id in ("claude-opus-4-7", "claude-sonnet-4-6"):
        strong = CATALOG.resolve(strong_id)
        for prefix in (PREFIX, 40_000):
            base = agent_task(strong, cheap, "strong", prefix)
            for strategy, horizon in (("loop", 8), ("loop", 4), ("blind", 0)):
                run = agent_task(strong, cheap, strategy, prefix, horizon)
                label = f"loop (horizon {horizon})" if strategy == "loop" else "cache-blind"
                results.append(
                    {
                        "task": f"agent, 10 steps, {prefix // 1000}k prefix, {label}",
                        "strong": strong.id,
                        "cheap": cheap.id,
                        "all_on_strong_usd": str(round(base.usd, 6)),
                        "routed_usd": str(round(run.usd, 6)),
                        "saving_pct": float(round((1 - run.usd / base.usd) * 100, 1)),
                        "turns_on_cheap": run.on_cheap,
                        "switch_write_tokens": run.switch_write_tokens,
                        "switch_write_usd": str(round(run.switch_write_usd, 6)),
                    }
                )
        routed, on_planner = fanout_task(strong, cheap)
        results.append(
            {
                "task": "fan-out, 4 workers",
                "strong": strong.id,
                "cheap": cheap.id,
                "all_on_strong_usd": str(round(on_planner, 6)),
                "routed_usd": str(round(routed, 6)),
                "saving_pct": float(round((1 - routed / on_planner) * 100, 1)),
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| task | strong / cheap | all on strong | routed | saving | on cheap | switch writes |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        writes = (
            f"{r['switch_write_tokens']} tokens, ${r['switch_write_usd']}"
            if "switch_write_tokens" in r
            else "-"
        )
        print(
            f"| {r['task']} | {r['strong']} / {r['cheap']} | ${r['all_on_strong_usd']} "
            f"| ${r['routed_usd']} | {r['saving_pct']}% | {r.get('turns_on_cheap', '-')} "
            f"| {writes} |"
        )


if __name__ == "__main__":
    main()
