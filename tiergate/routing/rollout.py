"""Rollout: a route moves a set share of its real traffic to a candidate model.

Shadow traffic (``routing/shadow.py``) measures a candidate without changing any answer; a
rollout is the next step: the candidate answers ``percent`` of the route's requests, and
``tiergate report --route R --ab CHOSEN,CANDIDATE`` compares the two on live traffic.

Which requests: a stable hash of the end user (OpenAI ``user``, Anthropic
``metadata.user_id``) into 10,000 buckets, so one user keeps seeing one model while the share
holds; a request without a user is bucketed by its prompt, so the same prompt sent again lands
on the same model. Being a hash of the request, the policy stays a pure function of it.
Raising the share keeps everyone already moved on the candidate (their buckets stay below the
threshold); rolling back to 0 moves everyone back.

A managed rollout (``ramp`` or ``guard`` in the config) reads its share from the routing state
(``RoutingState.rollouts``), which the gateway refreshes from the store, where replicas share
it (``gateway/rollout_control.py`` raises it step by step and rolls it back when the guard trips).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from tiergate.catalog import Catalog, ModelInfo
from tiergate.routing.capability import Need, Selector
from tiergate.routing.plan import Plan, Policy, RoutingState, Tier, clean_reason
from tiergate.types import ChatRequest

BUCKETS = 10_000


def rollout_bucket(request: ChatRequest) -> int:
    """The request's bucket in [0, 10,000): per end user, else per prompt."""
    user = request.metadata.get("user_id")
    key = f"user:{user}" if isinstance(user, str) and user else f"prompt:{request.text()}"
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def _buckets(percent: float) -> int:
    """Buckets below this are rolled out."""
    return round(percent * BUCKETS / 100)


class RolloutPolicy:
    def __init__(
        self,
        inner: Policy,
        model: ModelInfo,
        percent: float | None,
        selector: Selector,
    ) -> None:
        """``percent`` None: a managed rollout, whose share is in ``RoutingState.rollouts``."""
        self.name = inner.name
        self._inner = inner
        self.model = model
        self._fixed = None if percent is None else (_buckets(percent), f"{percent:g}%")
        self._selector = selector

    @property
    def managed(self) -> bool:
        return self._fixed is None

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        """The route's plan; for a request in the rollout's share, the candidate takes the
        place of the model the route chose (a ladder's first rung), unless the candidate cannot
        serve this request (a capability, the cost cap, an open circuit): the reason says so."""
        plan = self._inner(request, catalog, state)
        if self._fixed is not None:
            buckets, shown = self._fixed
        else:
            percent = state.rollouts.get(self.name, 0.0)
            buckets, shown = _buckets(percent), ""
        if buckets == 0 or rollout_bucket(request) >= buckets:
            return plan
        shown = shown or f"{percent:g}%"
        model, chosen = self.model, plan.tiers[0].model
        if chosen.id == model.id:
            return plan
        why = self._selector.capable(model, Need.of(request))
        if why is None and not state.reachable(model.id):
            why = "circuit open"
        if why is not None:
            reason = f"{plan.reason}; rollout to {model.id} skipped: {why}"
            return replace(plan, reason=clean_reason(reason))
        rest = tuple(tier for tier in plan.tiers[1:] if tier.model.id != model.id)
        tier = Tier(model, state.deployments_for(model.id))
        reason = f"rollout {shown} -> {model.id} instead of {chosen.id}; {plan.reason}"
        return replace(
            plan, tiers=(tier, *rest), reason=clean_reason(reason), rolled_from=plan.tiers[0]
        )
