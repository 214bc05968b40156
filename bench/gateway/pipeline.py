"""tiergate's own work per request, without sockets: the ASGI app driven in-process.

``run.py`` measures the whole gateway under wrk, where a shared machine's noise moves rps by
±20% between rounds; that cannot resolve a 10 µs change. This drives ``App`` exactly as uvicorn
would (scope, receive, send) with the benchmark's config (key check, the ``auto`` rules route,
cost, the SQLite request log), on one core, with the upstream replaced by a canned answer
returned through the real ``HTTPProvider`` (so the upstream request is still encoded and the
answer decoded). What it leaves out is what every Python gateway pays alike: the HTTP server
(uvicorn) and the HTTP client's socket work (pyreqwest).

It reports µs per request as the minimum over batches (noise only ever adds), with and
without the request log's writer thread busy, and a cProfile of one batch with ``--profile``.

    .venv/bin/python bench/gateway/pipeline.py --requests 3000 --batches 7 [--stages]

``--stages`` then times each step of a request on its own (timeit, on one real request's
objects): the per-stage figures in bench/results/history.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from upstream import _openai_body  # noqa: E402  (the fake upstream's exact answer)

from tiergate.config import load_settings  # noqa: E402
from tiergate.gateway.factory import prepare  # noqa: E402
from tiergate.gateway.gateway import Gateway  # noqa: E402
from tiergate.gateway.log_rows import build_record  # noqa: E402
from tiergate.gateway.pipeline import call_options, decode  # noqa: E402
from tiergate.gateway.request_id import new_request_id  # noqa: E402
from tiergate.gateway.trace import RequestTrace  # noqa: E402
from tiergate.providers.base import CallOptions  # noqa: E402
from tiergate.providers.http import HTTPProvider  # noqa: E402
from tiergate.providers.registry import ProviderRegistry  # noqa: E402
from tiergate.providers.transport import Reply  # noqa: E402
from tiergate.server.app import App  # noqa: E402
from tiergate.server.responses import request_headers  # noqa: E402
from tiergate.store.request_log import attempt_rows, request_row  # noqa: E402
from tiergate.wire.openai import FORMAT as OPENAI  # noqa: E402

BODY = orjson.dumps(
    {
        "model": "auto",
        "messages": [{"role": "user", "content": "Classify this ticket: my invoice is wrong."}],
        "max_tokens": 64,
    }
)


class CannedSession:
    """An ``UpstreamSession`` that answers every call with the fake upstream's body."""

    def __init__(self) -> None:
        self._reply = Reply(200, {"content-type": "application/json"}, _openai_body())

    async def fetch(self, *args: Any, **kw: Any) -> Reply:
        return self._reply

    async def aclose(self) -> None:
        pass


async def _one(app: App, key: str) -> int:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [
            (b"host", b"127.0.0.1:9300"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _batch(app: App, key: str, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        status = await _one(app, key)
        if status != 200:
            raise RuntimeError(f"request failed with {status}")
        await asyncio.sleep(0)  # let the recorder (call_soon) run, as it would between requests
    return (time.perf_counter() - started) / n * 1e6


def _run_to_end(make: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], None]:
    """A coroutine factory as a plain callable, for timeit: every stage timed here finishes
    without suspending (the canned upstream never waits), so one ``send`` runs it whole."""

    def run() -> None:
        try:
            make().send(None)
        except StopIteration:
            return
        raise RuntimeError("stage suspended: it cannot be timed synchronously")

    return run


async def stage_timings(app: App, gateway: Gateway, key: str) -> None:
    """Microseconds per call of each step a chat request takes (min of 7 timeit repeats), on
    the objects of one real request through ``app``."""
    traces: list[RequestTrace] = []
    finisher = gateway.finisher
    recorder = finisher.recorder

    def keep(trace: RequestTrace) -> None:
        traces.append(trace)
        recorder(trace)

    finisher.recorder = keep  # type: ignore[assignment]
    await _one(app, key)
    await asyncio.sleep(0)  # the recorder runs on the next loop turn
    finisher.recorder = recorder
    trace = traces[0]
    request, plan, outcome = trace.request, trace.plan, trace.outcome
    assert request is not None and plan is not None and outcome is not None
    assert trace.principal is not None and trace.principal.key is not None
    principal_key = trace.principal.key
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    policy = gateway.policies["auto"]
    provider = gateway.providers.get("openai")
    assert isinstance(provider, HTTPProvider)
    upstream_answer = orjson.loads(_openai_body())
    record = build_record(trace)
    options = CallOptions()
    stages: dict[str, Callable[[], object]] = {
        "request headers": lambda: request_headers({"headers": [(b"authorization", b"x")] * 4}),
        "key check": _run_to_end(lambda: gateway.auth.authenticate(headers)),
        "decode": lambda: decode(OPENAI, BODY, gateway),
        "policy": lambda: policy(request, gateway.catalog, gateway.routing_state()),
        "call options": lambda: call_options(headers, gateway),
        "guard": _run_to_end(
            lambda: gateway.guard.admit(principal_key, request, plan, "req-stage")
        ),
        "provider prepare": lambda: provider._prepare(request, outcome.deployment, options),
        "decode answer": lambda: OPENAI.decode_response(upstream_answer),
        "upstream call, canned": _run_to_end(
            lambda: provider.complete(request, outcome.deployment, options)
        ),
        "executor, canned": _run_to_end(lambda: gateway.executor.run(request, plan, options)),
        "bill": lambda: gateway.accountant.bill(trace.attempts),
        "client encode": lambda: orjson.dumps(OPENAI.encode_response(outcome.response, "auto")),
        "response headers": trace.response_headers,
        "log record": lambda: build_record(trace),
        "metrics": lambda: gateway.metrics.observe(record),
        "row tuples": lambda: (request_row(record), attempt_rows(record)),
        "request id": new_request_id,
    }
    for name, stage in stages.items():
        best = min(timeit.repeat(stage, number=2000, repeat=7)) / 2000 * 1e6
        print(f"  {name:24s} {best:7.2f} us")


async def main(args: argparse.Namespace) -> None:
    os.environ["TIERGATE_DATA_DIR"] = tempfile.mkdtemp(prefix="tiergate-pipeline-")
    os.environ["BENCH_UPSTREAM"] = "http://127.0.0.1:9"
    settings = load_settings(HERE / "tiergate.yaml")
    app = App(prepare(settings, ProviderRegistry(CannedSession())))  # type: ignore[arg-type]
    await app.startup()
    gateway = app.gateway
    _, key = await gateway.keys.create(tenant="bench", name="bench")
    gateway.auth.closed()
    try:
        await _batch(app, key, 500)  # warm-up: caches, first log batch
        before = [g["collections"] for g in gc.get_stats()]
        timings = [await _batch(app, key, args.requests) for _ in range(args.batches)]
        after = [g["collections"] for g in gc.get_stats()]
        per = [(a - b) / (args.requests * args.batches) for a, b in zip(after, before, strict=True)]
        print("gc collections per request by generation: " + ", ".join(f"{x:.3f}" for x in per))
        timings.sort()
        print(
            f"tiergate pipeline, in-process (no sockets): {timings[0]:.1f} us/request "
            f"(min of {args.batches} batches of {args.requests}; "
            f"median {timings[len(timings) // 2]:.1f})"
        )
        if args.stages:
            print("stages, us per call:")
            await stage_timings(app, gateway, key)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await _batch(app, key, args.requests)
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats("tottime")
            stats.print_stats(args.top)
            if args.callers:
                stats.print_callers(args.callers)
    finally:
        await app.shutdown()
    print(f"request log rows written: {gateway.log.written}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--stages", action="store_true", help="also time each step on its own")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--callers", metavar="REGEX", help="with --profile: who calls the functions matching it"
    )
    parser.add_argument("--core", type=int, default=0, help="pin to this core (-1: no pinning)")
    cli = parser.parse_args()
    if cli.core >= 0:
        os.sched_setaffinity(0, {cli.core})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(cli))
