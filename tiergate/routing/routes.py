"""Builds the named routes (policies selected by the requested model name) from config.

Everything that can be wrong with a route is found here, at start-up: unknown keys (pydantic,
``extra="forbid"``), unknown or unserved models, bad regexes and schemas, callables that do not
import, router files that do not load. Each ``ConfigError`` names the route and the key, since
the person reading it is editing that part of the YAML. After this, a policy call does no
lookups by name and cannot fail on configuration.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from tiergate.catalog import Catalog, ModelInfo
from tiergate.errors import ConfigError
from tiergate.providers.base import Deployment
from tiergate.routing.agent_loop import AgentLoopPolicy, LoopSettings
from tiergate.routing.capability import Selector
from tiergate.routing.ladder import LadderPolicy
from tiergate.routing.learned_route import LearnedChoicePolicy, LearnedPolicy, Scorer
from tiergate.routing.multicall import DraftReviewRoute, FanoutRoute
from tiergate.routing.plan import Policy
from tiergate.routing.rollout import RolloutPolicy
from tiergate.routing.rules import Rule, RulesPolicy
from tiergate.routing.shadow import ShadowedPolicy
from tiergate.routing.spec import AgentLoopSpec, DraftReviewSpec, FanoutSpec, LearnedSpec, RouteSpec
from tiergate.routing.validators import JudgeClient, build_validator

# The catalog's provider of models run in process (``providers/local.py``).
LOCAL_PROVIDER = "local"


def build_policies(
    routes: Mapping[str, Mapping[str, Any]],
    catalog: Catalog,
    deployments: Mapping[str, Sequence[Deployment]],
    judge: JudgeClient | None = None,
) -> dict[str, Policy]:
    """One policy per route name. ``judge`` is needed only by routes with a judge validator."""
    policies: dict[str, Policy] = {}
    for name, raw in routes.items():
        builder = _RouteBuilder(str(name), catalog, deployments, judge)
        policies[str(name)] = builder.build(raw)
    return policies


class _RouteBuilder:
    def __init__(
        self,
        name: str,
        catalog: Catalog,
        deployments: Mapping[str, Sequence[Deployment]],
        judge: JudgeClient | None,
    ) -> None:
        self.name = name
        self.where = f"routes.{name}"
        self.catalog = catalog
        self.deployments = deployments
        self.judge = judge

    def build(self, raw: Mapping[str, Any]) -> Policy:
        shadowed = self.catalog.get(self.name)
        if shadowed is not None:
            raise ConfigError(
                f"{self.where}: the route name is also the name of model {shadowed.id}; "
                "requests for that model would take the route. Rename the route."
            )
        spec = self._parse(raw)
        selector = Selector(self._fallback(spec), self.deployments, spec.max_cost_usd)
        policy = self._policy(spec, selector)
        if spec.rollout is not None:  # inside the shadow: a rolled-out plan may still shadow
            model = self.model(spec.rollout.model, f"{self.where}.rollout.model")
            guard = spec.rollout.guard
            if guard is not None and guard.judge is not None:
                self.model(guard.judge.model, f"{self.where}.rollout.guard.judge.model")
            percent = None if spec.rollout.managed else spec.rollout.percent
            policy = RolloutPolicy(policy, model, percent, selector)
        if spec.shadow is not None:
            shadow = spec.shadow
            model = self.model(shadow.model, f"{self.where}.shadow.model")
            if shadow.judge is not None:
                self.model(shadow.judge.model, f"{self.where}.shadow.judge.model")
            policy = ShadowedPolicy(
                policy, model, shadow.sample, shadow.max_in_flight, shadow.judge
            )
        return policy

    def _policy(self, spec: RouteSpec, selector: Selector) -> Policy:
        if spec.ladder is not None:
            models = tuple(
                self.model(m, f"{self.where}.ladder[{i}]") for i, m in enumerate(spec.ladder)
            )
            validators = tuple(
                build_validator(v, f"{self.where}.validators[{i}]", self.judge, self.model)
                for i, v in enumerate(spec.validators)
            )
            return LadderPolicy(self.name, models, validators, selector)
        if spec.learned is not None:
            return self._learned(spec.learned, selector)
        if spec.agent_loop is not None:
            return self._agent_loop(spec, spec.agent_loop, selector)
        if spec.fanout is not None:
            return self._fanout(spec.fanout, selector)
        if spec.draft_review is not None:
            return self._draft_review(spec.draft_review, selector)
        assert spec.default is not None  # RouteSpec guarantees it for a rules route
        rules = tuple(
            Rule(i + 1, rule.when, self.model(rule.use, f"{self.where}.rules[{i}].use"))
            for i, rule in enumerate(spec.rules)
        )
        default = self.model(spec.default, f"{self.where}.default")
        return RulesPolicy(self.name, rules, default, selector)

    def _parse(self, raw: Mapping[str, Any]) -> RouteSpec:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{self.where}: a route is a mapping of settings")
        try:
            return RouteSpec.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{self.where}{_path(e['loc'])}: {_route_problem(e)}" for e in exc.errors()
            )
            raise ConfigError(problems) from None

    def model(self, name: str, where: str) -> ModelInfo:
        """The catalog entry for ``name``; it must exist and have a deployment."""
        model = self.catalog.get(name)
        if model is None:
            names = [m.id for m in self.catalog.models()]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{where}: unknown model {name!r}{hint}")
        if not self.deployments.get(model.id):
            served = ", ".join(sorted(self.deployments)) or "none"
            raise ConfigError(
                f"{where}: model {model.id} has no deployment; add one under `deployments:` "
                f"(served models: {served})"
            )
        return model

    def _fallback(self, spec: RouteSpec) -> list[ModelInfo]:
        """The route's stand-in candidates. ``any`` leaves out the embedded local model: it
        is $0, so it would always be the "cheapest" stand-in, and a small local model is no
        replacement for a cloud one; a route that wants it as a fallback lists it."""
        if spec.fallback == "any":
            return [m for m in self.catalog.models() if m.provider != LOCAL_PROVIDER]
        if spec.fallback == "none":
            return []
        return [self.model(m, f"{self.where}.fallback[{i}]") for i, m in enumerate(spec.fallback)]

    def _agent_loop(self, route: RouteSpec, spec: AgentLoopSpec, selector: Selector) -> Policy:
        where = f"{self.where}.agent_loop"
        validators = tuple(
            build_validator(v, f"{self.where}.validators[{i}]", self.judge, self.model)
            for i, v in enumerate(route.validators)
        )
        settings = LoopSettings(
            horizon_turns=spec.horizon_turns,
            hysteresis=spec.hysteresis,
            error_streak=spec.error_streak,
            max_tool_result_tokens=spec.max_tool_result_tokens,
            escalations_before_stay=spec.escalations_before_stay,
            output_tokens=spec.output_tokens,
        )
        return AgentLoopPolicy(
            self.name,
            self.model(spec.strong, f"{where}.strong"),
            self.model(spec.cheap, f"{where}.cheap"),
            validators,
            settings,
            selector,
        )

    def _fanout(self, spec: FanoutSpec, selector: Selector) -> Policy:
        where = f"{self.where}.fanout"
        planner = self.model(spec.planner, f"{where}.planner")
        workers = tuple(
            self.model(m, f"{where}.workers[{i}]") for i, m in enumerate(spec.workers)
        )
        composer = self.model(spec.composer, f"{where}.composer") if spec.composer else planner
        return FanoutRoute(
            self.name,
            planner,
            workers,
            composer,
            max_subtasks=spec.max_subtasks,
            max_parallel=spec.max_parallel,
            worker_retries=spec.worker_retries,
            worker_max_tokens=spec.worker_max_tokens,
            selector=selector,
        )

    def _draft_review(self, spec: DraftReviewSpec, selector: Selector) -> Policy:
        where = f"{self.where}.draft_review"
        return DraftReviewRoute(
            self.name,
            self.model(spec.drafter, f"{where}.drafter"),
            self.model(spec.reviewer, f"{where}.reviewer"),
            drafts=spec.drafts,
            mode=spec.mode,
            temperature=spec.temperature,
            selector=selector,
        )

    def _learned(self, spec: LearnedSpec, selector: Selector) -> Policy:
        where = f"{self.where}.learned"
        router, file_weak, file_strong, file_threshold = _load_router(spec.router, where)
        threshold = spec.threshold if spec.threshold is not None else file_threshold
        names: tuple[str, ...] = tuple(getattr(router, "models", ()))
        if len(names) > 2:
            mapping = spec.models or {}
            unknown = sorted(set(mapping) - set(names))
            if unknown:
                raise ConfigError(
                    f"{where}.models: {unknown} are not models of the router file "
                    f"(it routes among {', '.join(names)})"
                )
            served = {
                n: self.model(mapping.get(n, n), f"{where}.models.{n}") for n in names
            }
            return LearnedChoicePolicy(self.name, router, served, threshold, selector)  # type: ignore[arg-type]
        weak = self.model(spec.weak or file_weak, f"{where}.weak")
        strong = self.model(spec.strong or file_strong, f"{where}.strong")
        return LearnedPolicy(self.name, router, weak, strong, threshold, selector)


def _path(loc: Sequence[int | str]) -> str:
    """pydantic's error location as the YAML path a person reads: ``.rules[0].when.task``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _load_router(path: str, where: str) -> tuple[Scorer, str, str, float]:
    """Load a router file (imports scikit-learn: only configs with a learned route pay)."""
    from tiergate.routing.learned import LearnedRouter

    try:
        router = LearnedRouter.load(path)
    except Exception as exc:  # unreadable, corrupt or foreign file: all start-up errors
        raise ConfigError(f"{where}.router: cannot load router file {path!r}: {exc}") from None
    return router, router.weak_model, router.strong_model, router.threshold


def _route_problem(error: Any) -> str:
    """A route's validation error; an unknown key names the valid ones (and the closest)."""
    if error["type"] == "extra_forbidden":
        from tiergate.config import unknown_key_message

        return unknown_key_message(tuple(error["loc"]), RouteSpec)
    return str(error["msg"]).removeprefix("Value error, ")
