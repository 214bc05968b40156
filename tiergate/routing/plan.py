"""What a routing policy returns: a plan the executor carries out.

A plan is data, so policies stay pure and testable without HTTP, and the reason for every
decision can be logged and returned in headers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tiergate.catalog import Catalog, ModelInfo
from tiergate.config.routes import PairJudgeSpec
from tiergate.providers.base import Deployment
from tiergate.providers.families import ModelFamilies
from tiergate.types import ChatRequest, ChatResponse, Usage


def clean_reason(text: str, limit: int = 200) -> str:
    """A reason fit for a response header: printable ASCII on one line, at most ``limit``
    characters. Task tags and model names come from callers and config, so they are scrubbed
    here rather than trusted."""
    if len(text) <= limit and text.isascii() and text.isprintable() and "  " not in text:
        return text.strip()  # the common case: already clean (a per-request hot path)
    out = "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))
    return out if len(out) <= limit else out[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class ValidatorCall:
    """An upstream call a validator made to grade an answer (a judge model's). The executor
    bills and logs it with the request it graded, as a ``judge`` attempt."""

    model: ModelInfo
    deployment: Deployment
    usage: Usage | None  # None: the call failed before any billable use
    latency_ms: float = 0.0
    status: int | None = None
    error: str | None = None
    estimated: bool = False  # part of ``usage`` was estimated (tiergate/cost/estimate.py)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an answer passes (``reason``: why not), and the calls the validator made to
    decide, passing or not: what grading cost is the graded request's."""

    ok: bool
    reason: str = ""
    calls: tuple[ValidatorCall, ...] = ()


class Validator(Protocol):
    """Decides whether an answer is good enough to return, or the ladder must escalate."""

    name: str

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict: ...

    def max_usage(
        self, question_tokens: int, answer_tokens: int
    ) -> Sequence[tuple[ModelInfo, Usage]]:
        """The most one check may use, per model it calls (empty: it calls none), for a
        question and an answer of these sizes: a key's budget reserves it before the request
        runs."""
        ...


class LocalCheck:
    """The ``max_usage`` of a validator that calls no model: grading costs nothing."""

    def max_usage(
        self, question_tokens: int, answer_tokens: int
    ) -> Sequence[tuple[ModelInfo, Usage]]:
        return ()


@dataclass(frozen=True, slots=True)
class Tier:
    """One rung: a model and the deployments that serve it, in fail-over order."""

    model: ModelInfo
    deployments: tuple[Deployment, ...]


@dataclass(frozen=True, slots=True)
class Shadow:
    """A candidate model to try on a sample of the plan's requests, after replying: ``sample``
    is the share of answered requests sent, ``max_in_flight`` the most running at once."""

    tier: Tier
    sample: float
    max_in_flight: int
    # Grades (served, candidate) pairs after the shadow call (None: exact agreement only).
    judge: PairJudgeSpec | None = None


class Fallback(Protocol):
    """Where a route's request goes when every tier of its plan failed the way an outage does
    (retryable errors, every breaker open, an upstream refusing the gateway's key) before
    anything reached the client. Asked only then, so the happy path never computes it."""

    def tiers(
        self, request: ChatRequest, tried: Collection[str], unhealthy: frozenset[str]
    ) -> Sequence[Tier]:
        """Models to try in order: capable of ``request``, not in ``tried`` (model ids), with
        a deployment outside ``unhealthy``."""
        ...


@dataclass(frozen=True, slots=True)
class Plan:
    tiers: tuple[Tier, ...]
    reason: str
    policy: str
    # Checked after every tier but the last; a failing verdict escalates to the next tier.
    validators: tuple[Validator, ...] = ()
    # A candidate model to send the same request to after replying (logged, never returned).
    shadow: Shadow | None = None
    # Where the request goes when every tier failed in an outage (a route's; None: nowhere,
    # as for a model named directly).
    fallback: Fallback | None = None
    # A rollout put its candidate in place of this tier (the incumbent), for the guard's
    # judge to compare the two answers off the request path.
    rolled_from: Tier | None = None
    # Rows that belong together in the log (an agent conversation's turns): the request's
    # ``trace_id`` unless the caller's request already has one.
    trace_id: str | None = None
    # Told which model answered and what its answer used, once the request succeeded: how a
    # stateful route (agent loop) learns where a conversation's prompt cache is warm.
    observe: Callable[[str, Usage | None], None] | None = None
    # The model this route's counterfactual prices the answer at (agent loop: the strong
    # model); None: the gateway's ``baseline_model``.
    baseline: ModelInfo | None = None


@dataclass(frozen=True, slots=True)
class RoutingState:
    """What a policy may look at besides the request: which deployments exist, the managed
    rollouts' shares, and which deployments have their circuit breaker open (``unhealthy``:
    failing, inside the cool-down or with its one probe out; a breaker past its cool-down
    whose probe slot is free counts as healthy again so that a request can probe it)."""

    deployments: Mapping[str, tuple[Deployment, ...]]
    unhealthy: frozenset[str] = field(default_factory=frozenset)
    # Deployments serving model-id patterns (``claude-*``), for ids no deployment serves.
    families: ModelFamilies | None = None
    # Managed rollouts' current share by route (percent), as last read from the store; a
    # route missing here serves no one with its candidate yet.
    rollouts: Mapping[str, float] = field(default_factory=dict)

    def deployments_for(self, model_id: str) -> tuple[Deployment, ...]:
        return self.deployments.get(model_id, ())

    def reachable(self, model_id: str) -> bool:
        """Whether some deployment of the model is served and not cut off by its breaker."""
        deployments = self.deployments.get(model_id, ())
        if not self.unhealthy:
            return bool(deployments)
        return any(d.name not in self.unhealthy for d in deployments)


class Policy(Protocol):
    """A pure function of (request, catalog, state) returning a plan."""

    name: str

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan: ...
