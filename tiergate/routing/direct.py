"""The policy for a request that names a concrete model: serve it with that model."""

from __future__ import annotations

from tiergate.catalog import Catalog
from tiergate.errors import NotFound
from tiergate.routing.plan import Plan, RoutingState, Tier
from tiergate.types import ChatRequest


class DirectPolicy:
    name = "direct"

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        model = catalog.resolve(request.model)
        deployments = state.deployments_for(model.id)
        if not deployments:
            served = sorted(state.deployments)
            raise NotFound(
                f"model {request.model!r} is in the catalog but no deployment serves it; "
                f"models served here: {', '.join(served) or 'none'}",
                param="model",
            )
        return Plan(
            tiers=(Tier(model, deployments),),
            reason=f"requested model {model.id}",
            policy=self.name,
        )
