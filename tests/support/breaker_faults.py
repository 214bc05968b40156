"""A fault run against the circuit breakers: mixed probe outcomes, then a check nothing wedged.

A real gateway on loopback serves ``gpt-5.4`` from two deployments, each a fake upstream that
answers every call with a random outcome: a fast answer, a long stream, a slow answer, one that
never comes within the deployment's timeout, a 503, a 429, a 400, a 401 (the gateway's key
refused), a connection that dies half way. Client threads (the official OpenAI SDK) send a mix
of plain requests, streams read to the end, streams dropped after the first chunk and
impatient requests that give up before a slow answer; half name the model, half go through a
rules route whose fallback is a healthy Claude Haiku. So every kind of probe outcome happens,
over and over, on both deployments.

What "wedged" means, measured while it runs and after:
- ``longest_stall``: per deployment, the longest stretch its breaker refused calls
  (``open_deployments``, sampled every 20 ms) with no call reaching the upstream. A breaker
  that works refuses for a cool-down, then lets a probe through; the probe holds the slot for
  at most the deployment's timeout (one that hangs), and if it fails another cool-down
  follows: at most cool-down + timeout between two calls. A wedged one refuses for good.
  (Refusing as such may last longer: every probe of a failing upstream fails.)
- ``held_when_idle``: probe slots still held once no request is in flight (leaked probes).
- ``recovery``: after the faults stop, seconds until no breaker refuses and a request naming
  the model is answered.
- ``route_5xx``: route requests answered with a 5xx; the fallback is healthy, so none.

``tests/e2e/test_breaker_faults.py`` runs it for a few seconds; ``bench/fault/breaker.py`` for
60 (docs/benchmarks.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from tests.fakes.http import Receive, Scope, Send
from tests.fakes.script import Fail, Reply, Step
from tests.fakes.upstream import FakeUpstream
from tests.support.server import serve_app
from tiergate.config import load_settings
from tiergate.server.app import App
from tiergate.server.factory import create_app

COOLDOWN = 0.5
TIMEOUT = 1.0  # each gpt-5.4 deployment's; also its probe's lease
LONG_TEXT = " ".join(f"word{i}" for i in range(40))

# What an upstream call gets, with its weight.
STEPS: list[tuple[Step, int]] = [
    (Reply(), 25),
    (Reply(LONG_TEXT, chunk_delay=0.01), 10),  # a stream a client may drop
    (Reply(delay=0.4), 10),  # impatient clients leave before it
    (Reply(delay=TIMEOUT + 0.5), 5),  # past the deployment's timeout: a 504
    (Reply(LONG_TEXT, die_after=2), 10),  # the connection dies half way
    (Fail(503, "overloaded"), 15),
    (Fail(429, "slow down"), 5),
    (Fail(400, "bad request"), 10),
    (Fail(401, "invalid api key"), 10),
]
BEHAVIOURS = ["plain", "stream", "drop", "impatient"]


class ChaosUpstream(FakeUpstream):
    """A fake OpenAI upstream whose every call draws a random step while ``chaos`` is on,
    and that counts the calls it is serving."""

    def __init__(self, seed: int) -> None:
        super().__init__("openai")
        self.chaos = True
        self.in_flight = 0
        self.calls = 0
        self._random = random.Random(seed)
        self._steps = [step for step, _ in STEPS]
        self._weights = [weight for _, weight in STEPS]

    def next_step(self, body: dict[str, Any] | None = None) -> Step:
        if not self.chaos:
            return Reply()
        with self._lock:
            return self._random.choices(self._steps, self._weights)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._lock:
            self.in_flight += 1
            self.calls += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            with self._lock:
                self.in_flight -= 1


@dataclass
class FaultReport:
    seconds: float
    clients: int
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    route_5xx: int = 0
    upstream_calls: dict[str, int] = field(default_factory=dict)
    openings: dict[str, int] = field(default_factory=dict)  # times its breaker began refusing
    longest_refusal: dict[str, float] = field(default_factory=dict)
    longest_stall: dict[str, float] = field(default_factory=dict)
    held_when_idle: frozenset[str] = frozenset()
    recovery: float | None = None

    @property
    def bound(self) -> float:
        """The longest stall of a working breaker: a probe that hangs, then a cool-down."""
        return COOLDOWN + TIMEOUT

    def summary(self) -> str:
        refusal = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(self.longest_refusal.items()))
        stall = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(self.longest_stall.items()))
        opened = ", ".join(f"{k} {v}" for k, v in sorted(self.openings.items()))
        recovery = "never" if self.recovery is None else f"{self.recovery:.2f} s"
        return (
            f"{self.requests} requests in {self.seconds:.0f} s from {self.clients} clients; "
            f"outcomes {dict(sorted(self.outcomes.items()))}; route 5xx {self.route_5xx}; "
            f"upstream calls {self.upstream_calls}; breakers opened {opened}; longest "
            f"refusal {refusal}; longest stall {stall} (bound {self.bound:.1f} s); probe "
            "slots held when idle "
            f"{sorted(self.held_when_idle) or 'none'}; recovery {recovery}"
        )


def _settings(a: FakeUpstream, b: FakeUpstream, haiku: FakeUpstream, data_dir: Path) -> Any:
    def gpt(name: str, upstream: FakeUpstream) -> dict[str, Any]:
        url = upstream.url + "/v1"
        return {
            "name": name,
            "model": "gpt-5.4",
            "provider": "openai",
            "base_url": url,
            "api_key": "sk-gateway",
            "timeout": TIMEOUT,
        }

    raw: dict[str, Any] = {
        "deployments": [
            gpt("gpt-a", a),
            gpt("gpt-b", b),
            {
                "name": "haiku",
                "model": "claude-haiku-4-5",
                "provider": "anthropic",
                "base_url": haiku.url,
                "api_key": "sk-gateway",
            },
        ],
        "routes": {"auto": {"default": "gpt-5.4", "fallback": ["claude-haiku-4-5"]}},
        "retry": {"max_retries": 0, "breaker_failures": 2, "breaker_cooldown": COOLDOWN},
        "data_dir": str(data_dir),
    }
    return load_settings(None, env={}, overrides=raw)


def _one_request(client: openai.OpenAI, rng: random.Random) -> tuple[str, bool]:
    """One request of a random kind: its outcome (``behaviour:result``) and whether it was a
    route request answered with a 5xx."""
    model = rng.choice(["gpt-5.4", "auto"])
    behaviour = rng.choice(BEHAVIOURS)
    messages: Any = [{"role": "user", "content": "hello"}]
    result, route_5xx = "200", False
    try:
        if behaviour in ("plain", "impatient"):
            timeout = 0.2 if behaviour == "impatient" else 30.0
            client.with_options(timeout=timeout).chat.completions.create(
                model=model, messages=messages
            )
        else:
            with client.chat.completions.create(
                model=model, messages=messages, stream=True
            ) as stream:
                for _ in stream:
                    if behaviour == "drop":
                        result = "dropped"
                        break
    except openai.APITimeoutError:
        result = "client-timeout"
    except openai.APIStatusError as exc:
        result = str(exc.status_code)
        route_5xx = model == "auto" and exc.status_code >= 500
    except openai.APIError:
        result = "stream-error"  # failed after the stream began: an error event
    return f"{behaviour}:{result}", route_5xx


def _longest(figures: dict[str, float], name: str, seconds: float) -> None:
    figures[name] = max(figures.get(name, 0.0), seconds)


def run(seconds: float, clients: int, data_dir: Path, seed: int = 1) -> FaultReport:
    """Faults for ``seconds``, then healthy upstreams until the breakers close (or 10 s)."""
    report = FaultReport(seconds, clients)
    a, b = ChaosUpstream(seed).start(), ChaosUpstream(seed + 1).start()
    haiku = FakeUpstream("anthropic").start()
    lock = threading.Lock()
    try:
        app: App = create_app(_settings(a, b, haiku, data_dir))
        breakers = app.prepared.executor.breakers
        with serve_app(app) as base:
            client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
            stop = time.monotonic() + seconds
            refusing: dict[str, float] = {}  # deployment -> refusing since
            stalled: dict[str, tuple[float, int]] = {}  # -> (since, upstream calls then)
            upstreams = {"gpt-a": a, "gpt-b": b}

            def sample() -> None:
                while time.monotonic() < stop:
                    now = time.monotonic()
                    try:
                        refused = breakers.open_deployments()
                    except RuntimeError:  # the gateway's thread added a breaker meanwhile
                        continue
                    for name, upstream in upstreams.items():
                        if name not in refused:
                            refusing.pop(name, None)
                            stalled.pop(name, None)
                            continue
                        if name not in refusing:
                            refusing[name] = now
                            report.openings[name] = report.openings.get(name, 0) + 1
                        since, calls = stalled.get(name, (now, upstream.calls))
                        if upstream.calls != calls:  # a probe went through: no stall
                            since, calls = now, upstream.calls
                        stalled[name] = (since, calls)
                        _longest(report.longest_refusal, name, now - refusing[name])
                        _longest(report.longest_stall, name, now - since)
                    time.sleep(0.02)

            def drive(n: int) -> None:
                rng = random.Random(seed * 1000 + n)
                while time.monotonic() < stop:
                    outcome, route_5xx = _one_request(client, rng)
                    with lock:
                        report.outcomes[outcome] += 1
                        report.requests += 1
                        report.route_5xx += route_5xx

            threads = [threading.Thread(target=sample)]
            threads += [threading.Thread(target=drive, args=(n,)) for n in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            report.upstream_calls = {"gpt-a": len(a.requests), "gpt-b": len(b.requests)}

            # Idle: no request in flight anywhere (the gateway may still be finishing an
            # upstream call a client left), then no probe slot may be held.
            deadline = time.monotonic() + 2 * TIMEOUT + 1
            while (a.in_flight or b.in_flight) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)
            report.held_when_idle = breakers.probing()

            # Recovery: healthy upstreams; until no breaker refuses and a request is answered.
            a.chaos = b.chaos = False
            healed = time.monotonic()
            while time.monotonic() - healed < 10:
                try:
                    client.chat.completions.create(
                        model="gpt-5.4", messages=[{"role": "user", "content": "hi"}]
                    )
                except openai.APIStatusError:
                    time.sleep(0.02)
                    continue
                if not breakers.open_deployments():
                    report.recovery = time.monotonic() - healed
                    break
    finally:
        for upstream in (a, b, haiku):
            upstream.stop()
    return report
