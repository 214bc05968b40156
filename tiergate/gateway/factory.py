"""Builds the ``Gateway`` from settings: the one place its parts are wired together.

Two steps, because a server is made before its event loop runs (uvicorn's ``--factory``, ``tiergate
serve``) while the store can only be opened inside it. ``prepare`` does everything without I/O
(catalog, deployments, policies, executor, prices), so a config error is found, and reported
with its line, before a server starts; ``build_gateway`` (async) opens the store, the request
log, keys and budgets, and returns the finished, immutable gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from tiergate.catalog import Catalog, load_catalog
from tiergate.config import Settings
from tiergate.config.routes import RolloutSpec, RouteSpec
from tiergate.cost.billing import Accountant
from tiergate.executor import Attempt, Executor, validator_calls
from tiergate.gateway.gateway import Gateway, RoutingStates
from tiergate.providers.base import OWN_CALL, Deployment
from tiergate.providers.families import ModelFamilies
from tiergate.providers.registry import ProviderRegistry, build_deployments, build_families
from tiergate.routing.direct import DirectPolicy
from tiergate.routing.plan import Plan, Policy, ValidatorCall
from tiergate.routing.shadow import ShadowedPolicy
from tiergate.types import ChatRequest, ChatResponse

__all__ = ["ExecutorJudge", "Prepared", "build_gateway", "prepare"]

_PlanFor = Callable[[ChatRequest], Plan]
_Close = Callable[[], Awaitable[None]]

logger = logging.getLogger("tiergate")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a gateway computes from its settings without I/O (``prepare``)."""

    settings: Settings
    catalog: Catalog
    deployments: dict[str, tuple[Deployment, ...]]
    families: ModelFamilies | None
    providers: ProviderRegistry
    executor: Executor
    accountant: Accountant
    policies: dict[str, Policy]
    direct: Policy
    states: RoutingStates
    # The plan for a model named directly (a judge's, an incumbent's); the routes' judge
    # needs it before this object exists, so it is made once in ``prepare`` and kept here.
    direct_plan: _PlanFor


def prepare(settings: Settings, providers: ProviderRegistry | None = None) -> Prepared:
    """Everything but I/O; raises ``ConfigError`` for what the settings get wrong."""
    from tiergate.routing.routes import build_policies

    catalog = load_catalog(settings.models or None)
    by_model = build_deployments(settings.deployments, catalog)
    deployments = {model_id: tuple(items) for model_id, items in by_model.items()}
    families = build_families(settings.deployments) or None
    providers = providers or ProviderRegistry()
    executor = Executor(providers, settings.retry, auto_cache=settings.auto_cache)
    direct = DirectPolicy()
    states = RoutingStates(deployments, executor, families)

    def direct_plan(request: ChatRequest) -> Plan:
        return direct(request, catalog, states.current())

    policies = build_policies(
        settings.routes, catalog, deployments, judge=ExecutorJudge(executor, direct_plan)
    )
    accountant = Accountant.from_settings(settings, catalog)
    return Prepared(
        settings=settings,
        catalog=catalog,
        deployments=deployments,
        families=families,
        providers=providers,
        executor=executor,
        accountant=accountant,
        policies=policies,
        direct=direct,
        states=states,
        direct_plan=direct_plan,
    )


async def build_gateway(
    settings: Settings | Prepared, providers: ProviderRegistry | None = None
) -> Gateway:
    """The gateway, its store and request log open (needs a running loop). ``settings`` may
    be what ``prepare`` made of them already (a server checks its config before it starts).

    When a step fails (a database that refuses a write, start-up cancelled), what the earlier
    steps opened is closed before the error goes on: a caller that handles it (a test, a
    process serving in-process, a supervisor retrying) is left no pool, thread or task."""
    ready = settings if isinstance(settings, Prepared) else prepare(settings, providers)
    opened: list[_Close] = []
    if ready is not settings:  # made here, so owned here; a caller's ``Prepared`` is its own
        opened.append(ready.providers.aclose)
    try:
        return await _open(ready, opened)
    except BaseException:
        for close in reversed(opened):
            try:
                await close()
            except Exception:  # the first error is the one to report; this one is logged
                logger.exception("closing a part of a gateway whose start-up failed")
        raise


async def _open(ready: Prepared, opened: list[_Close]) -> Gateway:
    """``build_gateway``'s steps; each part that needs closing is added to ``opened`` as soon
    as it exists."""
    from tiergate.gateway.auth import Authenticator
    from tiergate.gateway.health import HealthCheck
    from tiergate.gateway.judging import Judging
    from tiergate.gateway.pipeline import Finisher
    from tiergate.gateway.report_admission import ReportAdmission
    from tiergate.gateway.rollout_control import Rollouts, managed_rollouts
    from tiergate.gateway.shadow_calls import Shadower
    from tiergate.observability.metrics import Metrics
    from tiergate.store.backend import open_store
    from tiergate.store.holders import Holder
    from tiergate.store.location import store_url
    from tiergate.store.request_log import RequestLog
    from tiergate.store.responses import StoredResponses
    from tiergate.tenancy import Guard, KeyStore, Ledger

    config = ready.settings
    metrics = Metrics()
    store = await open_store(store_url(config.database_url, config.data_dir))
    opened.append(store.aclose)
    store.scan_seconds = config.reports.timeout_seconds
    store.scan_rows = config.reports.max_rows
    log = RequestLog(
        store, batch_size=config.log.batch_size, flush_interval=config.log.flush_interval
    )
    opened.append(log.aclose)
    await log.start()
    metrics.watch_log(log)
    executor, accountant = ready.executor, ready.accountant
    managed = managed_rollouts(config.routes, ready.catalog)
    judging = Judging(executor, accountant, store, ready.direct_plan)
    if _judged(config.routes, managed):
        metrics.watch_judging(judging)
    shadows = Shadower(executor, accountant, log, config.log.bodies, judging=judging)
    if any(isinstance(policy, ShadowedPolicy) for policy in ready.policies.values()):
        metrics.watch_shadows(shadows)
    rollouts = Rollouts(store, managed, executor, ready.direct_plan, judging)
    ready.states.follow(rollouts)
    if managed:
        opened.append(rollouts.aclose)
        await rollouts.start()
        metrics.watch_rollouts(rollouts)
    keys = KeyStore(store)
    holder = Holder(store)
    ledger = Ledger(store, holder.owner)
    holder.on_tick(ledger.retry_unsettled)
    responses = StoredResponses(store, keep_ms=int(config.responses.keep_days * 86_400_000))
    holder.on_tick(responses.prune_due)
    opened.append(holder.aclose)
    await holder.start()
    guard = Guard(ledger)
    auth = Authenticator(keys, config.admin_key, config.allow_open_remote, config.metrics_token)
    limits = config.reports
    reports = ReportAdmission(limits.per_tenant_concurrent, limits.per_tenant_per_minute)
    finisher = Finisher(log, metrics, config.log.bodies, guard, shadows, rollouts)
    health = HealthCheck(
        store,
        timeout_seconds=config.health.timeout_seconds,
        cache_seconds=config.health.cache_seconds,
    )
    return Gateway(
        settings=config,
        catalog=ready.catalog,
        deployments=ready.deployments,
        families=ready.families,
        providers=ready.providers,
        executor=executor,
        accountant=accountant,
        policies=ready.policies,
        direct=ready.direct,
        states=ready.states,
        store=store,
        log=log,
        metrics=metrics,
        keys=keys,
        holder=holder,
        guard=guard,
        auth=auth,
        reports=reports,
        judging=judging,
        shadows=shadows,
        rollouts=rollouts,
        finisher=finisher,
        health=health,
        responses=responses,
    )


def _judged(routes: Mapping[str, RouteSpec], managed: dict[str, RolloutSpec]) -> bool:
    """Whether some route judges pairs: a judged shadow, or a rollout guard with a judge."""
    if any(r.shadow is not None and r.shadow.judge is not None for r in routes.values()):
        return True
    return any(spec.guard is not None and spec.guard.judge for spec in managed.values())


class ExecutorJudge:
    """Lets judge validators call a model through this gateway's own deployments.

    Each call's attempts go to ``calls``, which the judge validator reports in its verdict:
    the executor charges them to the request being graded (``judge`` attempts in its bill,
    budget and log rows), so a judged ladder's cost shows what it really spent."""

    def __init__(self, executor: Executor, plan_for: _PlanFor) -> None:
        self._executor = executor
        self._plan_for = plan_for

    async def complete(
        self, request: ChatRequest, calls: list[ValidatorCall] | None = None
    ) -> ChatResponse:
        attempts: list[Attempt] = []
        try:
            plan = self._plan_for(request)
            outcome = await self._executor.run(request, plan, OWN_CALL, attempts)
        finally:  # a judge that failed in the end may still have made billable calls
            if calls is not None:
                calls += validator_calls(attempts)
        return outcome.response
