"""The learned policy: a trained router scores the prompt; strong model above the threshold.

The router (``tiergate.routing.learned``, scikit-learn inside) is imported and loaded only when
a config names one, at start-up, so a gateway without a learned route never imports it. It
scores ``request.last_user_text()``; the reason carries the score and the threshold so each
decision can be audited from the response headers alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from tiergate.catalog import Catalog, ModelInfo
from tiergate.routing.capability import Need, Selector
from tiergate.routing.plan import Plan, RoutingState
from tiergate.routing.rules import single_tier_plan
from tiergate.types import ChatRequest


class Scorer(Protocol):
    """What the policy needs of a router: how likely the strong model is needed."""

    def score(self, prompt: str) -> float: ...


class Chooser(Protocol):
    """What the several-model policy needs: the cheapest model predicted good enough."""

    def choose_many(self, prompts: Sequence[str], threshold: float | None = None) -> list[str]: ...


class LearnedPolicy:
    def __init__(
        self,
        name: str,
        router: Scorer,
        weak: ModelInfo,
        strong: ModelInfo,
        threshold: float,
        selector: Selector,
    ) -> None:
        self.name = name
        self._router = router
        self._weak = weak
        self._strong = strong
        self._threshold = threshold
        self._selector = selector

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        score = self._router.score(request.last_user_text())
        strong = score >= self._threshold
        wanted = self._strong if strong else self._weak
        comparison = ">=" if strong else "<"
        why = f"learned score {score:.3f} {comparison} threshold {self._threshold:.3f}"
        choice = self._selector.choose(wanted, Need.of(request), state)
        return single_tier_plan(self.name, choice, f"{why} -> {wanted.id}", state, self._selector)


class LearnedChoicePolicy:
    """A router over more than two models: the cheapest whose estimated quality is within the
    threshold of the strongest model's (``LearnedRouter.choose``)."""

    def __init__(
        self,
        name: str,
        router: Chooser,
        served: Mapping[str, ModelInfo],
        threshold: float,
        selector: Selector,
    ) -> None:
        self.name = name
        self._router = router
        self._served = dict(served)
        self._threshold = threshold
        self._selector = selector

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        (picked,) = self._router.choose_many([request.last_user_text()], self._threshold)
        wanted = self._served[picked]
        why = f"learned choice {picked} (cheapest within {self._threshold:.3f} of the strongest)"
        choice = self._selector.choose(wanted, Need.of(request), state)
        return single_tier_plan(self.name, choice, f"{why} -> {wanted.id}", state, self._selector)
