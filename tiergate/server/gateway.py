"""The gateway's state, built once at start-up from frozen settings.

Everything a request needs that can be computed ahead of time is computed here (catalog
lookups, deployments by model, policies by route name, the pooled HTTP client), so the hot path
only does per-request work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tiergate.catalog import Catalog, ModelInfo, load_catalog
from tiergate.config import Settings
from tiergate.config.routes import RolloutSpec, RouteSpec
from tiergate.executor import Attempt, Executor, validator_calls
from tiergate.providers.base import OWN_CALL, Deployment
from tiergate.providers.families import ModelFamilies
from tiergate.providers.registry import ProviderRegistry, build_deployments, build_families
from tiergate.routing.direct import DirectPolicy
from tiergate.routing.plan import Plan, Policy, RoutingState, ValidatorCall
from tiergate.routing.shadow import ShadowedPolicy
from tiergate.server.accounting import Accountant
from tiergate.server.report_admission import ReportAdmission
from tiergate.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from tiergate.observability.metrics import Metrics
    from tiergate.server.auth import Authenticator
    from tiergate.server.judging import Judging
    from tiergate.server.rollouts import Rollouts
    from tiergate.server.shadowing import Shadower
    from tiergate.store.backend import Store
    from tiergate.store.holders import Holder
    from tiergate.store.request_log import RequestLog
    from tiergate.tenancy import Guard, KeyStore

logger = logging.getLogger("tiergate")

_NO_ROLLOUTS: dict[str, float] = {}


@dataclass
class Gateway:
    settings: Settings
    catalog: Catalog
    deployments: dict[str, tuple[Deployment, ...]]
    providers: ProviderRegistry
    executor: Executor
    accountant: Accountant
    policies: dict[str, Policy] = field(default_factory=dict)
    direct: Policy = field(default_factory=DirectPolicy)
    log: RequestLog | None = None
    store: Store | None = None
    metrics: Metrics | None = None
    keys: KeyStore | None = None
    guard: Guard | None = None
    auth: Authenticator | None = None
    shadows: Shadower | None = None
    families: ModelFamilies | None = None
    holder: Holder | None = None
    reports: ReportAdmission = field(default_factory=lambda: ReportAdmission(1, 30))
    judging: Judging | None = None
    rollouts: Rollouts | None = None
    _state: RoutingState | None = field(default=None, init=False, repr=False)

    def routing_state(self) -> RoutingState:
        """Rebuilt only when the set of open breakers (or the deployment table) changed."""
        unhealthy = self.executor.breakers.open_deployments()
        shares = self.rollouts.shares if self.rollouts is not None else _NO_ROLLOUTS
        state = self._state
        if (
            state is None
            or state.unhealthy != unhealthy
            or state.deployments is not self.deployments
            or state.rollouts is not shares
        ):
            state = self._state = RoutingState(
                self.deployments, unhealthy, self.families, shares
            )
        return state

    def served_models(self) -> list[ModelInfo]:
        return [self.catalog.resolve(model_id) for model_id in self.deployments]

    async def open_store(self) -> None:
        """Open the store and start the request log (needs a running loop: app start-up)."""
        from tiergate.observability.metrics import Metrics
        from tiergate.server.auth import Authenticator
        from tiergate.store.backend import open_store
        from tiergate.store.holders import Holder
        from tiergate.store.location import store_url
        from tiergate.store.request_log import RequestLog
        from tiergate.tenancy import Guard, KeyStore, Ledger

        settings = self.settings
        self.metrics = Metrics()
        self.store = await open_store(store_url(settings.database_url, settings.data_dir))
        self.store.scan_seconds = settings.reports.timeout_seconds
        self.store.scan_rows = settings.reports.max_rows
        self.log = RequestLog(
            self.store,
            batch_size=settings.log.batch_size,
            flush_interval=settings.log.flush_interval,
        )
        await self.log.start()
        self.metrics.watch_log(self.log)
        from tiergate.server.rollouts import managed_rollouts

        managed = managed_rollouts(settings.routes, self.catalog)
        if _judged(settings.routes, managed):
            from tiergate.server.judging import Judging

            self.judging = Judging(self.executor, self.accountant, self.store, self._direct_plan)
            self.metrics.watch_judging(self.judging)
        if any(isinstance(policy, ShadowedPolicy) for policy in self.policies.values()):
            from tiergate.server.shadowing import Shadower

            self.shadows = Shadower(
                self.executor, self.accountant, self.log, settings.log.bodies,
                judging=self.judging,
            )  # fmt: skip
            self.metrics.watch_shadows(self.shadows)
        if managed:
            from tiergate.server.rollouts import Rollouts

            self.rollouts = Rollouts(
                self.store, managed, self.executor, self._direct_plan, self.judging
            )
            await self.rollouts.start()
            self.metrics.watch_rollouts(self.rollouts)
        self.keys = KeyStore(self.store)
        self.holder = Holder(self.store)
        ledger = Ledger(self.store, self.holder.owner)
        self.holder.on_tick(ledger.retry_unsettled)
        await self.holder.start()
        self.guard = Guard(ledger)
        self.auth = Authenticator(
            self.keys, settings.admin_key, settings.allow_open_remote, settings.metrics_token
        )

    def _direct_plan(self, request: ChatRequest) -> Plan:
        """The plan for a model named directly (a judge's, an incumbent's)."""
        return self.direct(request, self.catalog, self.routing_state())

    async def aclose(self) -> None:
        if self.rollouts is not None:  # its judged pairs go to the store: before it closes
            await self.rollouts.aclose()
        if self.shadows is not None:  # their rows go to the log: before it closes
            await self.shadows.aclose()
        if self.log is not None:
            await self.log.aclose()
        if self.holder is not None:  # after the last settlement: it lets go of the rest
            await self.holder.aclose()
        if self.store is not None:
            await self.store.aclose()
        await self.providers.aclose()


def _judged(routes: Mapping[str, RouteSpec], managed: dict[str, RolloutSpec]) -> bool:
    """Whether some route judges pairs: a judged shadow, or a rollout guard with a judge."""
    if any(r.shadow is not None and r.shadow.judge is not None for r in routes.values()):
        return True
    return any(spec.guard is not None and spec.guard.judge for spec in managed.values())


def build_gateway(settings: Settings, providers: ProviderRegistry | None = None) -> Gateway:
    """Everything but I/O: the request log is opened by the app's lifespan (it needs a loop)."""
    catalog = load_catalog(settings.models or None)
    by_model = build_deployments(settings.deployments, catalog)
    deployments = {model_id: tuple(items) for model_id, items in by_model.items()}
    providers = providers or ProviderRegistry()
    executor = Executor(providers, settings.retry, auto_cache=settings.auto_cache)
    accountant = Accountant.from_settings(settings, catalog)
    gateway = Gateway(settings, catalog, deployments, providers, executor, accountant)
    gateway.families = build_families(settings.deployments) or None
    reports = settings.reports
    gateway.reports = ReportAdmission(reports.per_tenant_concurrent, reports.per_tenant_per_minute)
    from tiergate.routing.routes import build_policies

    gateway.policies = build_policies(
        settings.routes, catalog, deployments, judge=ExecutorJudge(gateway)
    )
    return gateway


class ExecutorJudge:
    """Lets judge validators call a model through this gateway's own deployments.

    Each call's attempts go to ``calls``, which the judge validator reports in its verdict:
    the executor charges them to the request being graded (``judge`` attempts in its bill,
    budget and log rows), so a judged ladder's cost shows what it really spent."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def complete(
        self, request: ChatRequest, calls: list[ValidatorCall] | None = None
    ) -> ChatResponse:
        gateway = self._gateway
        plan = gateway.direct(request, gateway.catalog, gateway.routing_state())
        attempts: list[Attempt] = []
        try:
            outcome = await gateway.executor.run(request, plan, OWN_CALL, attempts)
        finally:  # a judge that failed in the end may still have made billable calls
            if calls is not None:
                calls += validator_calls(attempts)
        return outcome.response
