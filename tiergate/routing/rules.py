"""The rules policy: the first rule whose conditions hold picks the model, else the default.

Conditions are cheap facts of the request: its task tag (``metadata["task"]``, which the chat
handler fills from the ``x-tiergate-task`` header), whether it carries images or tools, and its
estimated prompt length. The chosen model then passes the route's capability filter and cost
cap (``capability.Selector``), which may swap in the cheapest capable model.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiergate.catalog import Catalog, ModelInfo
from tiergate.config.routes import WhenSpec
from tiergate.errors import NotFound
from tiergate.providers.base import Deployment
from tiergate.routing.capability import Choice, Need, Selector
from tiergate.routing.plan import Fallback, Plan, RoutingState, Tier, clean_reason
from tiergate.types import ChatRequest


def task_of(request: ChatRequest) -> str | None:
    """The request's task tag, normalised (stripped, lower case), or None."""
    task = request.metadata.get("task")
    if task is None:
        return None
    text = str(task).strip().lower()
    return text or None


@dataclass(frozen=True, slots=True)
class Rule:
    number: int  # 1-based, as a person counts the rules in the file
    when: WhenSpec
    model: ModelInfo

    def matches(self, need: Need, task: str | None) -> str | None:
        """The conditions that held, in words, or None if the rule does not apply."""
        when = self.when
        held: list[str] = []
        if when.task is not None:
            if task is None or task not in when.task:
                return None
            held.append(f"task={task}")
        if when.has_images is not None:
            if when.has_images != need.vision:
                return None
            held.append("images" if need.vision else "no images")
        if when.has_tools is not None:
            if when.has_tools != need.tools:
                return None
            held.append("tools" if need.tools else "no tools")
        if when.min_prompt_tokens is not None:
            if need.prompt_tokens < when.min_prompt_tokens:
                return None
            held.append(f"prompt~{need.prompt_tokens}>={when.min_prompt_tokens}")
        if when.max_prompt_tokens is not None:
            if need.prompt_tokens > when.max_prompt_tokens:
                return None
            held.append(f"prompt~{need.prompt_tokens}<={when.max_prompt_tokens}")
        return " ".join(held) or "always"


class RulesPolicy:
    def __init__(
        self, name: str, rules: tuple[Rule, ...], default: ModelInfo, selector: Selector
    ) -> None:
        self.name = name
        self._rules = rules
        self._default = default
        self._selector = selector

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        need = Need.of(request)
        task = task_of(request)
        wanted, why = self._default, "no rule matched, default"
        for rule in self._rules:
            held = rule.matches(need, task)
            if held is not None:
                wanted, why = rule.model, f"rule {rule.number} ({held})"
                break
        choice = self._selector.choose(wanted, need, state)
        return single_tier_plan(self.name, choice, f"{why} -> {wanted.id}", state, self._selector)


# Plans are immutable and a route makes few distinct ones (one per rule and model, give or
# take the prompt-length figures in a reason), so each is built once: this runs per request.
_PLANS: dict[
    tuple[str, str, str, str, int, int], tuple[tuple[Deployment, ...], Fallback | None, Plan]
] = {}
_PLANS_LIMIT = 4096


def single_tier_plan(
    name: str, choice: Choice, why: str, state: RoutingState, fallback: Fallback | None = None
) -> Plan:
    """A one-model plan whose reason tells what was wanted and, if it changed, why; the route's
    ``fallback`` answers if that model fails in an outage."""
    deployments = state.deployments_for(choice.model.id)
    key = (name, choice.model.id, choice.note, why, id(deployments), id(fallback))
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is deployments and cached[1] is fallback:
        return cached[2]
    if not deployments:  # checked at start-up; only a changed deployment table gets here
        raise NotFound(f"route {name!r} chose {choice.model.id}, which no deployment serves")
    reason = why if not choice.note else f"{why}; {choice.note}"
    plan = Plan(
        tiers=(Tier(choice.model, deployments),),
        reason=clean_reason(reason),
        policy=name,
        fallback=fallback,
    )
    if len(_PLANS) >= _PLANS_LIMIT:
        _PLANS.clear()
    _PLANS[key] = (deployments, fallback, plan)  # holding both keeps their ids from reuse
    return plan
