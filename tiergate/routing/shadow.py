"""Shadow traffic: a route that also tries a candidate model on a sample of its requests.

A wrapper around any route's policy, so the three route kinds stay as they are. It only adds
the candidate to the plan; whether a given request is shadowed (the sample, the in-flight cap)
is decided by the server after the reply, and the call is made there (``gateway/shadow_calls.py``).
"""

from __future__ import annotations

from dataclasses import replace

from tiergate.catalog import Catalog, ModelInfo
from tiergate.config.routes import PairJudgeSpec
from tiergate.routing.plan import Plan, Policy, RoutingState, Shadow, Tier
from tiergate.types import ChatRequest


class ShadowedPolicy:
    def __init__(
        self,
        inner: Policy,
        model: ModelInfo,
        sample: float,
        max_in_flight: int,
        judge: PairJudgeSpec | None = None,
    ) -> None:
        self.name = inner.name
        self._judge = judge
        self._inner = inner
        self._model = model
        self._sample = sample
        self._max_in_flight = max_in_flight

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        """The inner plan, with the candidate added unless the plan already tries it (nothing
        to compare) or every deployment of it has its breaker open (it would only fail)."""
        plan = self._inner(request, catalog, state)
        model = self._model
        if any(tier.model.id == model.id for tier in plan.tiers):
            return plan
        deployments = tuple(
            d for d in state.deployments_for(model.id) if d.name not in state.unhealthy
        )
        if not deployments:
            return plan
        shadow = Shadow(Tier(model, deployments), self._sample, self._max_in_flight, self._judge)
        return replace(plan, shadow=shadow)
