"""Per-deployment circuit breakers.

A deployment that fails ``threshold`` times in a row is skipped for ``cooldown`` seconds; after
that one request is let through as a probe: success closes the breaker, failure opens it for
another cooldown. State is per process on purpose: it describes what this replica sees of an
upstream's health, and nothing about correctness depends on replicas agreeing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_NONE: frozenset[str] = frozenset()


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False


class CircuitBreakers:
    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._states: dict[str, _State] = {}

    def allow(self, deployment: str) -> bool:
        """Whether to send to ``deployment`` now (claims the probe slot when half-open)."""
        state = self._states.get(deployment)
        if state is None or state.failures < self._threshold:
            return True
        if self._clock() < state.open_until or state.probing:
            return False
        state.probing = True
        return True

    def record_success(self, deployment: str) -> None:
        state = self._states.get(deployment)
        if state is not None:
            state.failures = 0
            state.probing = False

    def record_failure(self, deployment: str) -> None:
        state = self._states.setdefault(deployment, _State())
        state.failures += 1
        state.probing = False
        if state.failures >= self._threshold:
            state.open_until = self._clock() + self._cooldown

    def open_deployments(self) -> frozenset[str]:
        if not self._states:
            return _NONE  # no deployment has failed yet
        now = self._clock()
        return frozenset(
            name
            for name, state in self._states.items()
            if state.failures >= self._threshold and now < state.open_until
        )
