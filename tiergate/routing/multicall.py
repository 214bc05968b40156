"""Multi-call routes: fan-out (planner, parallel workers, composer) and draft-then-review.

What is pure lives here: the routes' settings, the prompts each inner call gets, and the
parsing of what the planner and the reviewer return (the planner's subtasks are JSON checked
against ``SUBTASKS_SCHEMA``). The calls themselves run in ``gateway/multicall_run.py`` through the
same executor, pricing and request log as any request, each a row of its own linked by one
trace id.

Both routes are policies too: called as one, they return the plan of their first call (the
planner's, the drafter's), so a caller that knows nothing of multi-call routes (a batch job)
still gets an answer, from one model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from tiergate.catalog import Catalog, ModelInfo
from tiergate.errors import KIND_API, GatewayError
from tiergate.routing.capability import Need, Selector
from tiergate.routing.plan import Plan, RoutingState, Tier, clean_reason
from tiergate.types import ChatRequest, Message, TextBlock

SUBTASKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["subtasks"],
    "properties": {
        "subtasks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["prompt"],
                "properties": {
                    "id": {"type": "string"},
                    "prompt": {"type": "string", "minLength": 1},
                },
            },
        }
    },
}

_PLANNER_PROMPT = (
    "Split the user's request into at most {n} independent subtasks that can be done in "
    "parallel, each answerable on its own. Reply with JSON only, no prose: "
    '{{"subtasks": [{{"id": "short-name", "prompt": "the full instruction for a worker"}}]}}'
)
_COMPOSER_PROMPT = (
    "Workers answered the subtasks of the user's request below. Write the final answer to "
    "the user's request from their answers."
)
_REVIEW_PICK = (
    "Below are {n} draft answers to the user's request. Pick the best one. Reply with JSON "
    'only: {{"winner": <draft number, 1 to {n}>}}'
)
_REVIEW_REFINE = (
    "Below are {n} draft answers to the user's request. Write the best possible answer, "
    "improving on them. Reply with JSON only: "
    '{{"winner": <number of the draft closest to your answer, 1 to {n}>, "answer": "..."}}'
)


class MultiCallError(GatewayError):
    """An inner call's answer could not be used (a plan that is not valid JSON, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=502, kind=KIND_API)


@dataclass(frozen=True, slots=True)
class Subtask:
    id: str
    prompt: str


def model_plan(
    route: str,
    model: ModelInfo,
    request: ChatRequest,
    state: RoutingState,
    reason: str,
    selector: Selector,
    *,
    baseline: ModelInfo | None = None,
    fallback: bool = True,
) -> Plan:
    """The plan of one inner call: ``model`` for ``request`` (the inner call's own request)
    through the route's selector, as a single-call route's model is, so its capability
    filters, cost cap and circuit-open stand-in apply to every call, and the reason says when
    a stand-in answers. ``fallback`` off leaves out the in-request fallback, for a call the
    route itself moves on after (a worker with retries or workers left)."""
    choice = selector.choose(model, Need.of(request), state)
    why = reason if not choice.note else f"{reason}; {choice.note}"
    return Plan(
        tiers=(Tier(choice.model, state.deployments_for(choice.model.id)),),
        reason=clean_reason(why),
        policy=route,
        fallback=selector if fallback else None,
        baseline=baseline,
    )


# Inner requests keep the route's name as their model: each is logged as a call of the route
# (the deployment names the upstream model), and a report groups them with it.
def _instruction(request: ChatRequest) -> list[Message]:
    """The caller's conversation, as the inner calls see it."""
    return list(request.messages)


def planner_request(request: ChatRequest, model: ModelInfo, max_subtasks: int) -> ChatRequest:
    system = [*request.system, TextBlock(_PLANNER_PROMPT.format(n=max_subtasks))]
    return replace(
        request,
        system=system,
        messages=_instruction(request),
        stream=False,
        tools=[],
        tool_choice=None,
        response_format={"type": "json_object"} if model.provider != "anthropic" else None,
    )


def _json_object(text: str) -> Any:
    """The JSON object in a model's answer: the whole text, or its outermost ``{...}`` (a
    model may wrap it in a code fence or a sentence)."""
    text = text.strip()
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise MultiCallError(f"the answer is not JSON: {text[:80]!r}")
    try:
        return orjson.loads(text[start : end + 1])
    except orjson.JSONDecodeError as exc:
        raise MultiCallError(f"the answer is not JSON ({exc})") from None


def parse_subtasks(text: str, max_subtasks: int) -> list[Subtask]:
    """The planner's subtasks, validated; more than ``max_subtasks`` is an error, not cut."""
    import jsonschema

    data = _json_object(text)
    try:
        jsonschema.validate(data, SUBTASKS_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise MultiCallError(f"the planner's plan does not fit the schema: {exc.message}") from None
    items = data["subtasks"]
    if len(items) > max_subtasks:
        raise MultiCallError(
            f"the planner returned {len(items)} subtasks; the route allows {max_subtasks}"
        )
    return [
        Subtask(str(item.get("id") or f"s{i + 1}"), item["prompt"]) for i, item in enumerate(items)
    ]


def worker_request(
    request: ChatRequest, model: ModelInfo, subtask: Subtask, max_tokens: int | None
) -> ChatRequest:
    return replace(
        request,
        messages=[Message("user", [TextBlock(subtask.prompt)])],
        stream=False,
        tools=[],
        tool_choice=None,
        max_tokens=max_tokens or request.max_tokens,
        response_format=None,
    )


def composer_request(
    request: ChatRequest, model: ModelInfo, subtasks: list[Subtask], answers: list[str]
) -> ChatRequest:
    parts = [
        f"## Subtask {s.id}\n{s.prompt}\n\n### Answer\n{a}"
        for s, a in zip(subtasks, answers, strict=True)
    ]
    context = Message("user", [TextBlock(_COMPOSER_PROMPT + "\n\n" + "\n\n".join(parts))])
    return replace(
        request,
        messages=[
            *_instruction(request),
            Message("assistant", [TextBlock("(delegated)")]),
            context,
        ],
    )


def review_request(
    request: ChatRequest, model: ModelInfo, drafts: list[str], mode: Literal["pick", "refine"]
) -> ChatRequest:
    prompt = (_REVIEW_PICK if mode == "pick" else _REVIEW_REFINE).format(n=len(drafts))
    shown = "\n\n".join(f"## Draft {i + 1}\n{d}" for i, d in enumerate(drafts))
    return replace(
        request,
        system=[*request.system, TextBlock(prompt)],
        messages=[
            *_instruction(request),
            Message("assistant", [TextBlock("(drafts follow)")]),
            Message("user", [TextBlock(shown)]),
        ],
        stream=False,
        tools=[],
        tool_choice=None,
        response_format={"type": "json_object"} if model.provider != "anthropic" else None,
    )


def parse_review(text: str, drafts: int, mode: Literal["pick", "refine"]) -> tuple[int, str | None]:
    """The winning draft (1-based) and, when refining, the reviewer's answer."""
    data = _json_object(text)
    winner = data.get("winner") if isinstance(data, dict) else None
    if isinstance(winner, str) and winner.strip().isdigit():
        winner = int(winner)
    if not isinstance(winner, int) or isinstance(winner, bool) or not 1 <= winner <= drafts:
        raise MultiCallError(f"the reviewer named no draft between 1 and {drafts}")
    if mode == "pick":
        return winner, None
    answer = data.get("answer")
    if not isinstance(answer, str) or not answer:
        raise MultiCallError("the reviewer's refined answer is missing")
    return winner, answer


class FanoutRoute:
    def __init__(
        self,
        name: str,
        planner: ModelInfo,
        workers: tuple[ModelInfo, ...],
        composer: ModelInfo,
        *,
        max_subtasks: int,
        max_parallel: int,
        worker_retries: int,
        worker_max_tokens: int | None,
        selector: Selector,
    ) -> None:
        self.name = name
        self.planner = planner
        self.workers = workers
        self.composer = composer
        self.max_subtasks = max_subtasks
        self.max_parallel = max_parallel
        self.worker_retries = worker_retries
        self.worker_max_tokens = worker_max_tokens
        self.selector = selector

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        why = f"fanout {self.name}: planner"
        return model_plan(self.name, self.planner, request, state, why, self.selector)


class DraftReviewRoute:
    def __init__(
        self,
        name: str,
        drafter: ModelInfo,
        reviewer: ModelInfo,
        *,
        drafts: int,
        mode: Literal["pick", "refine"],
        temperature: float | None,
        selector: Selector,
    ) -> None:
        self.name = name
        self.drafter = drafter
        self.reviewer = reviewer
        self.drafts = drafts
        self.mode = mode
        self.temperature = temperature
        self.selector = selector

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        why = f"draft_review {self.name}: draft"
        return model_plan(self.name, self.drafter, request, state, why, self.selector)


MultiCallRoute = FanoutRoute | DraftReviewRoute
