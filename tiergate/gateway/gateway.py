"""The gateway: every part a request needs, built once (``gateway/factory.py``) and never changed.

Everything that can be computed ahead of time is (catalog lookups, deployments by model,
policies by route name, the pooled HTTP client), so the hot path only does per-request work.
Every part is there once the gateway exists: callers never check for a part that is missing.
Features a config does not use (shadow calls, judged pairs, rollouts) are parts that do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tiergate.catalog import Catalog, ModelInfo
from tiergate.config import Settings
from tiergate.cost.billing import Accountant
from tiergate.executor import Executor
from tiergate.providers.base import Deployment
from tiergate.providers.families import ModelFamilies
from tiergate.providers.registry import ProviderRegistry
from tiergate.routing.plan import Policy, RoutingState

if TYPE_CHECKING:
    from tiergate.gateway.auth import Authenticator
    from tiergate.gateway.health import HealthCheck
    from tiergate.gateway.judging import Judging
    from tiergate.gateway.pipeline import Finisher
    from tiergate.gateway.report_admission import ReportAdmission
    from tiergate.gateway.rollout_control import Rollouts
    from tiergate.gateway.shadow_calls import Shadower
    from tiergate.observability.metrics import Metrics
    from tiergate.store.backend import Store
    from tiergate.store.holders import Holder
    from tiergate.store.request_log import RequestLog
    from tiergate.store.responses import StoredResponses
    from tiergate.tenancy import Guard, KeyStore

__all__ = ["Gateway", "RoutingStates"]

_NO_ROLLOUTS: dict[str, float] = {}


class _Shares(Protocol):
    shares: dict[str, float]


class RoutingStates:
    """The ``RoutingState`` policies read, rebuilt only when the set of open breakers, the
    deployment table or the rollouts' shares changed (each compared by identity)."""

    def __init__(
        self,
        deployments: dict[str, tuple[Deployment, ...]],
        executor: Executor,
        families: ModelFamilies | None,
    ) -> None:
        self._deployments = deployments
        self._breakers = executor.breakers
        self._families = families
        self._rollouts: _Shares | None = None
        self._state: RoutingState | None = None

    def follow(self, rollouts: _Shares) -> None:
        """The rollout controller whose shares the state carries (set once, by the factory:
        the controller needs the store, the policies built before it need this object)."""
        self._rollouts = rollouts

    def current(self) -> RoutingState:
        unhealthy = self._breakers.open_deployments()
        rollouts = self._rollouts
        shares = rollouts.shares if rollouts is not None else _NO_ROLLOUTS
        state = self._state
        if (
            state is None
            or state.unhealthy != unhealthy
            or state.deployments is not self._deployments
            or state.rollouts is not shares
        ):
            state = self._state = RoutingState(self._deployments, unhealthy, self._families, shares)
        return state


@dataclass(frozen=True, slots=True)
class Gateway:
    settings: Settings
    catalog: Catalog
    deployments: dict[str, tuple[Deployment, ...]]
    families: ModelFamilies | None  # None: no deployment serves a family of model ids
    providers: ProviderRegistry
    executor: Executor
    accountant: Accountant
    policies: dict[str, Policy]  # by route name
    direct: Policy  # a model named directly
    states: RoutingStates
    store: Store
    log: RequestLog
    metrics: Metrics
    keys: KeyStore
    holder: Holder
    guard: Guard
    auth: Authenticator
    reports: ReportAdmission
    judging: Judging
    shadows: Shadower
    rollouts: Rollouts
    # What happens once a request ends (log row, budget settled, shadow, rollout judge).
    finisher: Finisher
    health: HealthCheck  # what ``GET /health`` reports
    responses: StoredResponses  # Responses API answers kept for ``previous_response_id``

    def routing_state(self) -> RoutingState:
        return self.states.current()

    def served_models(self) -> list[ModelInfo]:
        return [self.catalog.resolve(model_id) for model_id in self.deployments]

    async def aclose(self) -> None:
        await self.rollouts.aclose()  # its judged pairs go to the store: before it closes
        await self.shadows.aclose()  # their rows go to the log: before it closes
        await self.finisher.aclose()  # budgets still being settled
        await self.log.aclose()
        await self.holder.aclose()  # after the last settlement: it lets go of the rest
        await self.health.aclose()
        await self.store.aclose()
        await self.providers.aclose()
