"""The ladder policy: cheapest tier first; the executor escalates when a validator says no.

The policy only decides which rungs this request may use: a rung that lacks a capability the
request needs (vision, tools, context room) or breaks the route's cost cap is left out, and
the reason says so. So is a rung whose deployments all have their circuit breaker open: the
next rung answers at once, and the reason tells why. If no rung is left, the cheapest capable
served model that can be reached answers alone; if every rung fails in an outage during the
request, the route's fallback (``capability.Selector.tiers``) answers it.
"""

from __future__ import annotations

from tiergate.catalog import Catalog, ModelInfo
from tiergate.routing.capability import Need, Selector
from tiergate.routing.plan import Plan, RoutingState, Tier, Validator, clean_reason
from tiergate.routing.rules import single_tier_plan
from tiergate.types import ChatRequest


class LadderPolicy:
    def __init__(
        self,
        name: str,
        models: tuple[ModelInfo, ...],
        validators: tuple[Validator, ...],
        selector: Selector,
    ) -> None:
        self.name = name
        self._models = models
        self._validators = validators
        self._selector = selector
        checks = ", ".join(v.name for v in validators) or "no validators"
        self._summary = f"ladder {' > '.join(m.id for m in models)} ({checks})"

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        need = Need.of(request)
        tiers: list[Tier] = []
        skipped: list[str] = []
        for model in self._models:
            why = self._selector.capable(model, need)
            deployments = state.deployments_for(model.id)
            if why is None and not deployments:
                why = "not served"
            elif why is None and not state.reachable(model.id):
                why = "circuit open"  # the executor would only find every breaker open
            if why is not None:
                skipped.append(f"{model.id} {why}")
                continue
            tiers.append(Tier(model, deployments))
        if not tiers:
            choice = self._selector.choose(self._models[-1], need, state)
            reason = f"{self._summary}: no rung fits"
            return single_tier_plan(self.name, choice, reason, state, self._selector)
        reason = self._summary
        if skipped:
            reason += "; skipped " + ", ".join(skipped)
        return Plan(
            tiers=tuple(tiers),
            reason=clean_reason(reason),
            policy=self.name,
            validators=self._validators,
            fallback=self._selector,
        )
