"""What one pass of Responses API pruning costs: the bounded delete of expired answers.

Stored answers are deleted in passes of at most ``rows_per_pass`` (1,000) of the oldest
expired rows (``store/responses.py``), one pass per store-holder tick (10 s) while a backlog
remains. This writes ``--rows`` expired answers of ``--size`` bytes each, then times every pass
until none is left, and one pass with nothing to delete (the steady state); it prints the
median and the largest pass.

    .venv/bin/python bench/store/responses_prune.py [--rows 10000] [--size 4000]
    .venv/bin/python bench/store/responses_prune.py --url postgresql://...   (a database made
        from the URL's server, dropped afterwards)
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time

import orjson

from tiergate.store.backend import open_store
from tiergate.store.responses import StoredResponses

_INSERT = (
    "INSERT INTO responses (id, tenant, created_ms, model, conversation) VALUES (?, ?, ?, ?, ?)"
)


async def _admin(url: str, statement: str) -> None:
    import psycopg

    admin = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await admin.execute(statement)  # type: ignore[arg-type]
    await admin.close()


async def _run(url: str, rows: int, size: int) -> None:
    store = await open_store(url)
    try:
        conversation = orjson.dumps([{"role": "user", "content": "x" * size}]).decode()
        batch = [(f"resp_{n}", "t", 1_000 + n, "m", conversation) for n in range(rows)]
        await store.executemany([(_INSERT, batch)])
        kept = StoredResponses(store, keep_ms=1)
        passes: list[float] = []
        while True:
            started = time.perf_counter()
            deleted = await kept.prune()
            elapsed = (time.perf_counter() - started) * 1000
            if deleted == 0:
                break
            passes.append(elapsed)
        started = time.perf_counter()
        await kept.prune()
        empty = (time.perf_counter() - started) * 1000
        print(
            f"{store.dialect}: {len(passes)} passes, median {statistics.median(passes):.1f} ms, "
            f"largest {max(passes):.1f} ms; a pass with nothing to delete {empty:.2f} ms"
        )
    finally:
        await store.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=4_000, help="bytes of text per answer")
    parser.add_argument("--url", help="a PostgreSQL server (default: a SQLite file)")
    args = parser.parse_args()
    if args.url is None:
        with tempfile.TemporaryDirectory() as directory:
            await _run(f"sqlite:///{directory}/prune.db", args.rows, args.size)
        return
    name = "prune_" + secrets.token_hex(4)
    await _admin(args.url, f"CREATE DATABASE {name}")
    try:
        await _run(args.url.rsplit("/", 1)[0] + "/" + name, args.rows, args.size)
    finally:
        await _admin(args.url, f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
