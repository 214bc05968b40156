"""Per-deployment circuit breakers.

A deployment that fails ``threshold`` times in a row is skipped for ``cooldown`` seconds; after
that one request is let through as a probe: success closes the breaker, failure opens it for
another cooldown. State is per process on purpose: it describes what this replica sees of an
upstream's health, and nothing about correctness depends on replicas agreeing.

The probe slot is the one piece of state that can wedge a breaker: while it is held, every
other request is refused. So it is a lease, not a flag. ``claim`` hands out a numbered probe
that expires after ``lease`` seconds; the caller gives it back on every outcome (an answer or
a failure records one; a client that left, a cancellation or an answer that says nothing about
the upstream's health just ``release`` it), and a probe that never reports back stops holding
the slot when its lease ends. Only the holder's number releases a slot, so a late release of
an expired probe cannot free another request's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_NONE: frozenset[str] = frozenset()

# ``claim``'s answer for a closed breaker: go ahead, there is no probe to give back.
NO_PROBE = 0


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float = 0.0
    probe: int = NO_PROBE  # the number of the probe holding the slot, NO_PROBE when free
    probe_until: float = 0.0  # when that probe's lease ends


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
        self._probes = 0

    def claim(self, deployment: str, lease: float) -> int | None:
        """Whether to send to ``deployment`` now: None when its breaker refuses; ``NO_PROBE``
        when it is closed; else the number of the probe this call now holds, for ``lease``
        seconds at most, to be handed back with ``release`` (or by recording an outcome)."""
        state = self._states.get(deployment)
        if state is None or state.failures < self._threshold:
            return NO_PROBE
        now = self._clock()
        if now < state.open_until or (state.probe != NO_PROBE and now < state.probe_until):
            return None
        self._probes += 1
        state.probe, state.probe_until = self._probes, now + lease
        return state.probe

    def release(self, deployment: str, probe: int) -> None:
        """Free the slot ``probe`` holds, if it still does, leaving the breaker as it is: the
        call ended without saying anything about the deployment's health."""
        if probe == NO_PROBE:
            return
        state = self._states.get(deployment)
        if state is not None and state.probe == probe:
            state.probe = NO_PROBE

    def record_success(self, deployment: str) -> None:
        """Close the breaker. A closed breaker with its slot free is the same as no state at
        all, so the entry goes: ``open_deployments`` (asked on every request) stays a plain
        emptiness check once the upstreams are healthy again."""
        self._states.pop(deployment, None)

    def record_failure(self, deployment: str) -> None:
        state = self._states.setdefault(deployment, _State())
        state.failures += 1
        state.probe = NO_PROBE
        if state.failures >= self._threshold:
            state.open_until = self._clock() + self._cooldown

    def probing(self) -> frozenset[str]:
        """The deployments whose probe slot is held now (by a live probe, or one whose lease
        has not run out yet): with no request in flight this should be empty."""
        now = self._clock()
        return frozenset(
            name
            for name, state in self._states.items()
            if state.probe != NO_PROBE and now < state.probe_until
        )

    def open_deployments(self) -> frozenset[str]:
        """The deployments ``claim`` would refuse now: inside their cool-down, or past it with
        the probe slot held. Routing treats them as unreachable; one past its cool-down whose
        slot is free is reachable, so that a request may probe it."""
        if not self._states:
            return _NONE  # no deployment has failed yet
        now = self._clock()
        return frozenset(
            name
            for name, state in self._states.items()
            if state.failures >= self._threshold
            and (now < state.open_until or (state.probe != NO_PROBE and now < state.probe_until))
        )
