"""Capability filters and the per-request cost cap, shared by every configured route.

Why one place: whatever a rule, a ladder or the learned router chooses, a request with images
must not reach a model without vision, a request with tools one without tool use, and a prompt
must fit the model's context window with room for ``max_tokens``. When the chosen model fails
a check, the cheapest model that passes (by catalog input price) takes over, and the plan's
reason says why, so a surprising choice can always be explained from the response headers.
The same stand-in answers when every deployment of the chosen model has its circuit breaker
open (``RoutingState.unhealthy``), so an outage of one provider moves a route's traffic to
what still works instead of failing it. And when the model a plan tries fails the same way
during the request itself, the selector is the plan's ``Fallback``: the cheapest capable
reachable models answer that request (``tiers``), not only the ones after it.

``Need`` is computed once per request; the checks themselves are a few comparisons.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tiergate.catalog import ModelInfo
from tiergate.cost import usd_of
from tiergate.errors import InvalidRequest
from tiergate.providers.base import Deployment
from tiergate.routing.plan import RoutingState, Tier
from tiergate.tokens import estimate_input_tokens
from tiergate.types import ChatRequest, Usage

# Output tokens assumed for the cost cap when the request sets no ``max_tokens`` (OpenAI
# clients may omit it); a cap is about typical spend, and the model's max output would make
# every such request look like the worst case.
DEFAULT_OUTPUT_ESTIMATE = 1024


@dataclass(frozen=True, slots=True)
class Need:
    """What a request demands of a model."""

    vision: bool
    tools: bool
    prompt_tokens: int
    max_tokens: int | None

    @classmethod
    def of(cls, request: ChatRequest) -> Need:
        return cls(
            vision=request.needs_vision(),
            tools=bool(request.tools),
            prompt_tokens=estimate_input_tokens(request),
            max_tokens=request.max_tokens,
        )

    def estimated_usd(self, model: ModelInfo) -> Decimal | None:
        """Cost of the prompt plus ``max_tokens`` of output; None if the model is unpriced."""
        output = self.max_tokens if self.max_tokens is not None else DEFAULT_OUTPUT_ESTIMATE
        usage = Usage(input_tokens=self.prompt_tokens, output_tokens=output)
        return usd_of(usage, model)


def shortfall(model: ModelInfo, need: Need, max_cost: Decimal | None = None) -> str | None:
    """Why ``model`` cannot serve the request (a few words), or None if it can."""
    if need.vision and "vision" not in model.capabilities:
        return "no vision"
    if need.tools and "tools" not in model.capabilities:
        return "no tools"
    if need.max_tokens is not None and need.max_tokens > model.max_output:
        return f"max_tokens over its max output {model.max_output}"
    if need.prompt_tokens + (need.max_tokens or 1) > model.context_window:
        return f"prompt of ~{need.prompt_tokens} tokens does not fit {model.context_window}"
    if max_cost is not None:
        usd = need.estimated_usd(model)
        if usd is None:
            return "unpriced under a cost cap"
        if usd > max_cost:
            return f"estimate ${usd:.4f} over cap ${max_cost}"
    return None


@dataclass(frozen=True, slots=True)
class Choice:
    model: ModelInfo
    # Empty when the wanted model was taken; otherwise why it was not, for the plan's reason.
    note: str = ""


# Models a plan's fallback tries after its own tiers failed: each costs a full round of
# retries, so an outage of several providers ends in an error rather than a long wait.
MAX_FALLBACKS = 2


class Selector:
    """Picks the wanted model or the cheapest capable stand-in among ``candidates``.

    ``candidates`` are sorted once at start-up (priced models by input price, then unpriced
    ones), so a fallback is a linear scan over a handful of models.
    """

    def __init__(
        self,
        candidates: Iterable[ModelInfo],
        deployments: Mapping[str, Sequence[Deployment]],
        max_cost_usd: float | None = None,
    ) -> None:
        served = [m for m in candidates if deployments.get(m.id)]
        self._candidates = tuple(sorted(served, key=_price_key))
        self._deployments = deployments
        self.max_cost = Decimal(str(max_cost_usd)) if max_cost_usd is not None else None
        self._as_wanted: dict[str, Choice] = {}  # Choice(model) is immutable: one per model

    def choose(self, wanted: ModelInfo, need: Need, state: RoutingState) -> Choice:
        why = shortfall(wanted, need, self.max_cost)
        if why is None:
            if not state.unhealthy or state.reachable(wanted.id):
                choice = self._as_wanted.get(wanted.id)
                if choice is None or choice.model is not wanted:
                    choice = self._as_wanted[wanted.id] = Choice(wanted)
                return choice
            # Every deployment of the wanted model has its breaker open: a capable model that
            # can be reached answers instead. With none, the wanted model stays and the
            # executor reports the outage (or probes a breaker whose cool-down ended).
            stand_in = self._stand_in(wanted, need, state, reachable_only=True)
            if stand_in is None:
                return Choice(wanted, f"{wanted.id} circuit open, no capable stand-in")
            return Choice(stand_in, f"{wanted.id} circuit open, cheapest capable is {stand_in.id}")
        stand_in = self._stand_in(wanted, need, state, reachable_only=False)
        if stand_in is not None:
            return Choice(stand_in, f"{wanted.id} {why}, cheapest capable is {stand_in.id}")
        raise InvalidRequest(
            f"no model on this route can serve the request: {wanted.id}: {why}, and no "
            f"other served model fits ({describe(need, self.max_cost)})"
        )

    def _stand_in(
        self, wanted: ModelInfo, need: Need, state: RoutingState, *, reachable_only: bool
    ) -> ModelInfo | None:
        """The cheapest capable candidate other than ``wanted``, preferring one whose breakers
        are not all open; an unreachable one only when ``reachable_only`` is off and no
        reachable one exists (the request itself is fine, so an outage must not turn it into
        an invalid request)."""
        unreachable: ModelInfo | None = None
        for model in self._candidates:
            if model.id == wanted.id or shortfall(model, need, self.max_cost) is not None:
                continue
            if state.reachable(model.id):
                return model
            if unreachable is None:
                unreachable = model
        return None if reachable_only else unreachable

    def capable(self, model: ModelInfo, need: Need) -> str | None:
        return shortfall(model, need, self.max_cost)

    def tiers(
        self, request: ChatRequest, tried: Collection[str], unhealthy: frozenset[str]
    ) -> tuple[Tier, ...]:
        """The plan's ``Fallback``: up to ``MAX_FALLBACKS`` candidates, cheapest first, that
        can serve ``request``, were not ``tried`` and have a deployment outside ``unhealthy``
        (the rest would only fail too). Priced ones only: the request's budget reservation
        was made for the plan, and a model without a price could spend without limit."""
        need = Need.of(request)
        found: list[Tier] = []
        for model in self._candidates:
            if model.pricing is None or model.id in tried:
                continue
            if shortfall(model, need, self.max_cost) is not None:
                continue
            deployments = tuple(self._deployments.get(model.id, ()))
            if all(d.name in unhealthy for d in deployments):
                continue
            found.append(Tier(model, deployments))
            if len(found) == MAX_FALLBACKS:
                break
        return tuple(found)


def describe(need: Need, max_cost: Decimal | None) -> str:
    """The request's demands in words, for error messages."""
    parts = [f"~{need.prompt_tokens} prompt tokens"]
    if need.max_tokens is not None:
        parts.append(f"max_tokens {need.max_tokens}")
    if need.vision:
        parts.append("images")
    if need.tools:
        parts.append("tools")
    if max_cost is not None:
        parts.append(f"cost cap ${max_cost}")
    return ", ".join(parts)


def _price_key(model: ModelInfo) -> tuple[bool, Decimal]:
    price = model.input_price()
    return (price is None, price if price is not None else Decimal(0))
