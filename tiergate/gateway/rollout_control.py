"""Guarded rollouts: raise a candidate's share step by step, roll it back when it misbehaves.

The share a route's rollout serves lives in the store (``store/rollouts.py``), so every
replica serves the same share and a restart keeps it. Each replica runs one ``Rollouts``
task: every ``guard.check_every`` it re-reads the rows (the routing state picks up the new
shares; the request path only reads a dict), and for a ramping route measures the candidate's
own traffic in the guard's window from the request log and the judged sample, then decides
(``decide``, a pure function): roll back to 0 if a limit is crossed once there are
``min_requests``, else take the next ramp step when it is due. Any replica may decide; the
compare-and-set in the store lets exactly one change land and log its event.

Judged quality: a sample of the candidate's answers (``guard.judge.sample``) is set against
the incumbent's answer to the same request, called off the request path after the reply, and
judged like judged shadow (``gateway/judging.py``, kind ``rollout``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tiergate.catalog import Catalog
from tiergate.config.routes import RolloutSpec, RouteSpec
from tiergate.executor import Executor
from tiergate.routing.plan import Plan
from tiergate.store import rollouts as states
from tiergate.store.backend import now_ms
from tiergate.store.holders import new_owner
from tiergate.store.rollouts import RAMPING, Change, GuardStats, RolloutRow

if TYPE_CHECKING:
    from tiergate.gateway.judging import Judging
    from tiergate.gateway.trace import RequestTrace
    from tiergate.store.backend import Store

logger = logging.getLogger("tiergate")

_MAX_JUDGES = 8  # judged pairs of a rollout's sample running at once in one process


def managed_rollouts(
    routes: Mapping[str, RouteSpec | Mapping[str, Any]], catalog: Catalog | None = None
) -> dict[str, RolloutSpec]:
    """The routes whose rollout has a ramp or a guard (the config is already validated by
    ``build_policies``; a route that does not parse is left to it). With ``catalog``, the
    candidate is named by its catalog id, as the request log names the model that answered."""
    out: dict[str, RolloutSpec] = {}
    for name, raw in routes.items():
        try:
            spec = raw if isinstance(raw, RouteSpec) else RouteSpec.model_validate(dict(raw))
        except ValidationError:
            continue
        rollout = spec.rollout
        if rollout is None or not rollout.managed:
            continue
        model = catalog.get(rollout.model) if catalog is not None else None
        if model is not None:
            rollout = rollout.model_copy(update={"model": model.id})
        out[str(name)] = rollout
    return out


def first_change(spec: RolloutSpec, reason: str) -> Change:
    return Change(
        kind="start", percent=spec.steps[0], step=0, state=RAMPING, reason=reason, new_epoch=True
    )


def decide(spec: RolloutSpec, row: RolloutRow, stats: GuardStats, now_ms: int) -> Change | None:
    """What a ramping rollout does next, from its candidate's figures in the guard window:
    roll back (a limit crossed, once there are ``min_requests``), the next step (when due and
    the guard holds), or nothing."""
    if row.state != RAMPING:
        return None
    guard = spec.guard
    if guard is not None:
        if stats.attempts >= guard.min_requests:
            rate = stats.errors / stats.attempts
            if guard.max_error_rate is not None and rate > guard.max_error_rate:
                return _rollback(f"error rate {rate:.2f} > {guard.max_error_rate:g}", stats, guard)
        if stats.answered >= guard.min_requests:
            rate = stats.refusals / stats.answered
            if guard.max_refusal_rate is not None and rate > guard.max_refusal_rate:
                return _rollback(
                    f"refusal rate {rate:.2f} > {guard.max_refusal_rate:g}", stats, guard
                )
        floor, quality = guard.min_judged_quality, stats.quality
        if (
            floor is not None
            and quality is not None
            and stats.judged >= guard.min_requests
            and quality < floor
        ):
            why = f"judged quality {quality:.2f} < {floor:g} over {stats.judged} pairs"
            return _rollback(why, stats, guard)
    steps = spec.steps
    if row.step + 1 >= len(steps) or spec.ramp is None:
        return None
    ramp = spec.ramp
    if ramp.every_requests is not None:
        if stats.route_requests < ramp.every_requests:
            return None
        due = f"after {stats.route_requests} requests"
    else:
        every = ramp.every_seconds or 0.0
        if now_ms - row.since_ms < every * 1000:
            return None
        due = f"after {(now_ms - row.since_ms) / 1000:.0f}s"
    step = row.step + 1
    held = (
        f"; guard held: {stats.errors}/{stats.attempts} errors, "
        f"{stats.refusals}/{stats.answered} refusals"
        if guard is not None
        else ""
    )
    reason = f"step {step + 1}/{len(steps)}: {steps[step]:g}% {due}{held}"
    return Change(kind="step", percent=steps[step], step=step, state=RAMPING, reason=reason)


def _rollback(why: str, stats: GuardStats, guard: Any) -> Change:
    reason = (
        f"guard: {why} over the last {guard.window} "
        f"({stats.attempts} calls, {stats.answered} answers)"
    )
    return Change(kind="rollback", percent=0.0, step=0, state=states.ROLLED_BACK, reason=reason)


class Rollouts:
    def __init__(
        self,
        store: Store,
        specs: Mapping[str, RolloutSpec],
        executor: Executor,
        plan_for: Callable[[Any], Plan],
        judging: Judging | None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self.specs = dict(specs)
        self._executor = executor
        self._plan_for = plan_for
        self.judging = judging
        self._draw = draw
        self.replica = new_owner()  # machine:pid:random, as the store's leases name processes
        # Route -> percent, replaced (never mutated) on change: the routing state compares
        # it by identity.
        self.shares: dict[str, float] = {}
        self.rows: dict[str, RolloutRow] = {}
        self.events: dict[tuple[str, str], int] = {}  # (route, kind) -> changes made here
        self.judge_running = 0
        self._task: asyncio.Task[None] | None = None
        self._judges: set[asyncio.Task[None]] = set()
        self._interval = min(
            (s.guard.check_seconds if s.guard else 2.0 for s in self.specs.values()), default=2.0
        )

    async def start(self) -> None:
        """Make sure every managed route has its row (a new or changed candidate starts at
        the first step), read the shares, and start checking."""
        for route, spec in self.specs.items():
            (row,) = await states.load(self._store, route) or (None,)
            if row is None:
                change = first_change(spec, f"rollout of {spec.model} started")
                if await states.start(self._store, route, spec.model, change, self.replica):
                    self._count(route, "start")
            elif row.model != spec.model:
                change = first_change(spec, f"candidate changed from {row.model} to {spec.model}")
                if await states.apply(self._store, row, change, self.replica, spec.model):
                    self._count(route, "start")
        await self.refresh()
        self._task = asyncio.ensure_future(self._loop())

    async def refresh(self) -> None:
        rows = {row.route: row for row in await states.load(self._store)}
        self.rows = {route: rows[route] for route in self.specs if route in rows}
        shares = {route: row.percent for route, row in self.rows.items()}
        if shares != self.shares:
            self.shares = shares

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly away: try again next time
                logger.exception("rollout check failed")

    async def check(self) -> None:
        """One round: re-read, then decide for each ramping route."""
        await self.refresh()
        now = now_ms()
        changed = False
        for route, row in self.rows.items():
            spec = self.specs[route]
            if row.state != RAMPING:
                continue
            window = spec.guard.window_seconds if spec.guard else 0.0
            since = max(row.epoch_ms, now - int(window * 1000))
            stats = await states.guard_stats(self._store, route, row.model, since, row.since_ms)
            change = decide(spec, row, stats, now)
            if change is None:
                continue
            if await states.apply(self._store, row, change, self.replica):
                self._count(route, change.kind)
                logger.warning("rollout %s: %s", route, change.reason)
            changed = True
        if changed:
            await self.refresh()

    def _count(self, route: str, kind: str) -> None:
        self.events[(route, kind)] = self.events.get((route, kind), 0) + 1

    # -- the guard's judged sample -------------------------------------------------------
    def launch_judge(self, trace: RequestTrace) -> bool:
        """For an answer the candidate gave in a guarded rollout, maybe (the judge's sample)
        ask the incumbent too and judge the pair, in the background. Never raises."""
        plan, request = trace.plan, trace.request
        if plan is None or plan.rolled_from is None or request is None or trace.status != 200:
            return False
        spec = self.specs.get(plan.policy)
        if spec is None or spec.guard is None or spec.guard.judge is None:
            return False
        judge = spec.guard.judge
        if self.judging is None or trace.answered_by() != spec.model:
            return False  # (a fallback's answer is not the candidate's to judge)
        if judge.sample < 1 and self._draw() >= judge.sample:
            return False
        if self.judge_running >= _MAX_JUDGES:
            return False
        self.judge_running += 1
        task = asyncio.ensure_future(self._judge(trace, plan))
        self._judges.add(task)
        task.add_done_callback(self._judged)
        return True

    def _judged(self, task: asyncio.Task[None]) -> None:
        self._judges.discard(task)
        self.judge_running -= 1

    async def _judge(self, trace: RequestTrace, plan: Plan) -> None:
        from tiergate.gateway.judging import answer_text, response_text
        from tiergate.gateway.shadow_calls import call_off_path, served_answer

        assert trace.request is not None and plan.rolled_from is not None
        served = served_answer(trace)
        if served is None:  # a stream whose text was not kept
            return
        spec = self.specs[plan.policy]
        assert spec.guard is not None and spec.guard.judge is not None
        call = await call_off_path(
            self._executor, trace, plan.rolled_from, "rollout guard", plan.policy
        )
        answer, request, attempts = call.response, call.request, call.attempts
        if answer is None:
            return  # no incumbent answer, nothing to compare
        principal = trace.principal
        assert self.judging is not None
        await self.judging.grade(
            kind="rollout",
            spec=spec.guard.judge,
            request=request,
            request_id=trace.request_id,
            tenant=principal.tenant if principal else "default",
            route=plan.policy,
            served_model=plan.rolled_from.model.id,
            candidate_model=spec.model,
            served=response_text(answer),
            candidate=answer_text(*served),
            extra_attempts=attempts,
        )

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._judges:
            await asyncio.gather(*self._judges, return_exceptions=True)
