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
from tiergate.config import problem
from tiergate.config.routes import (
    AgentLoopSpec,
    DraftReviewSpec,
    FanoutSpec,
    LearnedSpec,
    RouteSpec,
)
from tiergate.errors import ConfigError, Loc, key_path
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
from tiergate.routing.validators import JudgeClient, build_validator

# The catalog's provider of models run in process (``providers/local.py``).
LOCAL_PROVIDER = "local"


def build_policies(
    routes: Mapping[str, RouteSpec | Mapping[str, Any]],
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
        self.loc: Loc = ("routes", name)
        self.catalog = catalog
        self.deployments = deployments
        self.judge = judge

    def build(self, raw: RouteSpec | Mapping[str, Any]) -> Policy:
        shadowed = self.catalog.get(self.name)
        if shadowed is not None:
            raise ConfigError(
                f"the route name is also the name of model {shadowed.id}; "
                "requests for that model would take the route. Rename the route.",
                self.loc,
            )
        spec = self._parse(raw)
        selector = Selector(self._fallback(spec), self.deployments, spec.max_cost_usd)
        policy = self._policy(spec, selector)
        if spec.rollout is not None:  # inside the shadow: a rolled-out plan may still shadow
            model = self.model(spec.rollout.model, (*self.loc, "rollout", "model"))
            guard = spec.rollout.guard
            if guard is not None and guard.judge is not None:
                self.model(guard.judge.model, (*self.loc, "rollout", "guard", "judge", "model"))
            percent = None if spec.rollout.managed else spec.rollout.percent
            policy = RolloutPolicy(policy, model, percent, selector)
        if spec.shadow is not None:
            shadow = spec.shadow
            model = self.model(shadow.model, (*self.loc, "shadow", "model"))
            if shadow.judge is not None:
                self.model(shadow.judge.model, (*self.loc, "shadow", "judge", "model"))
            policy = ShadowedPolicy(
                policy, model, shadow.sample, shadow.max_in_flight, shadow.judge
            )
        return policy

    def _policy(self, spec: RouteSpec, selector: Selector) -> Policy:
        if spec.ladder is not None:
            models = tuple(
                self.model(m, (*self.loc, "ladder", i)) for i, m in enumerate(spec.ladder)
            )
            validators = tuple(
                build_validator(v, (*self.loc, "validators", i), self.judge, self.model)
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
            Rule(i + 1, rule.when, self.model(rule.use, (*self.loc, "rules", i, "use")))
            for i, rule in enumerate(spec.rules)
        )
        default = self.model(spec.default, (*self.loc, "default"))
        return RulesPolicy(self.name, rules, default, selector)

    def _parse(self, raw: RouteSpec | Mapping[str, Any]) -> RouteSpec:
        """The route's spec: settings hold it validated already; a mapping (a route given
        in code) is validated here, with the same key paths in its errors."""
        if isinstance(raw, RouteSpec):
            return raw
        if not isinstance(raw, Mapping):
            raise ConfigError("a route is a mapping of settings", self.loc)
        try:
            return RouteSpec.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{key_path(('routes', self.name, *e['loc']))}: {problem(e, RouteSpec)}"
                for e in exc.errors()
            )
            raise ConfigError(problems) from None

    def model(self, name: str, where: Loc) -> ModelInfo:
        """The catalog entry for ``name``; it must exist and have a deployment."""
        model = self.catalog.get(name)
        if model is None:
            names = [m.id for m in self.catalog.models()]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"unknown model {name!r}{hint}", where)
        if not self.deployments.get(model.id):
            served = ", ".join(sorted(self.deployments)) or "none"
            raise ConfigError(
                f"model {model.id} has no deployment; add one under `deployments:` "
                f"(served models: {served})",
                where,
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
        return [self.model(m, (*self.loc, "fallback", i)) for i, m in enumerate(spec.fallback)]

    def _agent_loop(self, route: RouteSpec, spec: AgentLoopSpec, selector: Selector) -> Policy:
        where = (*self.loc, "agent_loop")
        validators = tuple(
            build_validator(v, (*self.loc, "validators", i), self.judge, self.model)
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
            self.model(spec.strong, (*where, "strong")),
            self.model(spec.cheap, (*where, "cheap")),
            validators,
            settings,
            selector,
        )

    def _fanout(self, spec: FanoutSpec, selector: Selector) -> Policy:
        where = (*self.loc, "fanout")
        planner = self.model(spec.planner, (*where, "planner"))
        workers = tuple(self.model(m, (*where, "workers", i)) for i, m in enumerate(spec.workers))
        composer = self.model(spec.composer, (*where, "composer")) if spec.composer else planner
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
        where = (*self.loc, "draft_review")
        return DraftReviewRoute(
            self.name,
            self.model(spec.drafter, (*where, "drafter")),
            self.model(spec.reviewer, (*where, "reviewer")),
            drafts=spec.drafts,
            mode=spec.mode,
            temperature=spec.temperature,
            selector=selector,
        )

    def _learned(self, spec: LearnedSpec, selector: Selector) -> Policy:
        where = (*self.loc, "learned")
        router, file_weak, file_strong, file_threshold = _load_router(spec.router, where)
        threshold = spec.threshold if spec.threshold is not None else file_threshold
        names: tuple[str, ...] = tuple(getattr(router, "models", ()))
        if len(names) > 2:
            mapping = spec.models or {}
            unknown = sorted(set(mapping) - set(names))
            if unknown:
                raise ConfigError(
                    f"{unknown} are not models of the router file "
                    f"(it routes among {', '.join(names)})",
                    (*where, "models"),
                )
            served = {n: self.model(mapping.get(n, n), (*where, "models", n)) for n in names}
            return LearnedChoicePolicy(self.name, router, served, threshold, selector)  # type: ignore[arg-type]
        weak = self.model(spec.weak or file_weak, (*where, "weak"))
        strong = self.model(spec.strong or file_strong, (*where, "strong"))
        return LearnedPolicy(self.name, router, weak, strong, threshold, selector)


def _load_router(path: str, where: Loc) -> tuple[Scorer, str, str, float]:
    """Load a router file (imports scikit-learn: only configs with a learned route pay)."""
    from tiergate.routing.learned import LearnedRouter

    try:
        router = LearnedRouter.load(path)
    except Exception as exc:  # unreadable, corrupt or foreign file: all start-up errors
        raise ConfigError(f"cannot load router file {path!r}: {exc}", (*where, "router")) from None
    return router, router.weak_model, router.strong_model, router.threshold
