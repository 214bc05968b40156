"""tiergate's own work per request, without sockets: the ASGI app driven in-process.

``run.py`` measures the whole gateway under wrk, where a shared machine's noise moves rps by
±20% between rounds; that cannot resolve a 10 µs change. This drives ``App`` exactly as uvicorn
would (scope, receive, send) with the benchmark's config (key check, the ``auto`` rules route,
cost, the SQLite request log), on one core, with the upstream replaced by a canned answer
returned through the real ``HTTPProvider`` (so the upstream request is still encoded and the
answer decoded). What it leaves out is what every Python gateway pays alike: the HTTP server
(uvicorn) and the HTTP client's socket work (aiohttp).

It reports µs per request as the minimum over batches (noise only ever adds), with and
without the request log's writer thread busy, and a cProfile of one batch with ``--profile``.

    .venv/bin/python bench/gateway/pipeline.py --requests 3000 --batches 7
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
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from upstream import _openai_body  # noqa: E402  (the fake upstream's exact answer)

from tiergate.config import load_settings  # noqa: E402
from tiergate.providers.registry import ProviderRegistry  # noqa: E402
from tiergate.server.app import App  # noqa: E402
from tiergate.server.gateway import build_gateway  # noqa: E402

BODY = orjson.dumps(
    {
        "model": "auto",
        "messages": [{"role": "user", "content": "Classify this ticket: my invoice is wrong."}],
        "max_tokens": 64,
    }
)


class _Canned:
    """Stands in for aiohttp's response: status, headers, body, release."""

    status = 200
    headers: dict[str, str] = {"content-type": "application/json"}

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        pass


class CannedSession:
    """An ``UpstreamSession`` that answers every POST with the fake upstream's body."""

    def __init__(self) -> None:
        self._body = _openai_body()

    async def post(self, url: str, headers: Any, body: bytes, *args: Any, **kw: Any) -> _Canned:
        return _Canned(self._body)

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


async def main(args: argparse.Namespace) -> None:
    os.environ["TIERGATE_DATA_DIR"] = tempfile.mkdtemp(prefix="tiergate-pipeline-")
    os.environ["BENCH_UPSTREAM"] = "http://127.0.0.1:9"
    settings = load_settings(HERE / "tiergate.yaml")
    gateway = build_gateway(settings, ProviderRegistry(CannedSession()))  # type: ignore[arg-type]
    app = App(gateway)
    await app.startup()
    assert gateway.keys is not None and gateway.auth is not None
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
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await _batch(app, key, args.requests)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    finally:
        await app.shutdown()
    assert gateway.log is not None
    print(f"request log rows written: {gateway.log.written}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
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
