"""What a batch runner's claim costs beside a job parked for a provider's batch API.

Items handed to a provider batch (``batch_api: true``) stay ``queued`` for up to 24 hours,
with their upstream request set, and every replica's runner claims work about once a second.
This builds a store with one 100,000-item job parked (as the relay leaves it) and one small
job still to run, then times ``JobStore.claim`` (4 items, then handed back), with migration
0010's partial index and with that index dropped, alternating between the two stores, and
prints the median of each.

    .venv/bin/python bench/store/claim_cost.py [--items 100000] [--rounds 20]
    .venv/bin/python bench/store/claim_cost.py --url postgresql://...   (two databases made
        from the URL's server, dropped afterwards)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from tiergate.batch.jobs import JobStore
from tiergate.store.backend import open_store

DAY_MS = 86_400_000


async def _admin(url: str, *statements: str) -> None:
    """Run ``statements`` on the PostgreSQL server of ``url`` (outside a transaction)."""
    import psycopg

    admin = await psycopg.AsyncConnection.connect(url, autocommit=True)
    for statement in statements:
        await admin.execute(statement)  # type: ignore[arg-type]
    await admin.close()


async def _store(url: str | None, name: str, items: int, indexed: bool) -> Any:
    if url is None:
        store = await open_store(f"sqlite:///{tempfile.mkdtemp()}/{name}.db")
    else:
        await _admin(url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
        store = await open_store(url.rsplit("/", 1)[0] + "/" + name)
    jobs = JobStore(store)
    await jobs.create(
        job_id="msgbatch_parked",
        tenant="acme",
        key_id=None,
        client_format="anthropic",
        items=[(f"c{i}", "{}") for i in range(items)],
        expire_ms=DAY_MS,
    )
    await store.execute(
        "UPDATE batch_items SET upstream = 'anthropic-a', upstream_params = '{}' "
        "WHERE batch_id = 'msgbatch_parked'"
    )
    await jobs.create(
        job_id="msgbatch_live",
        tenant="globex",
        key_id=None,
        client_format="anthropic",
        items=[(f"c{i}", "{}") for i in range(50)],
        expire_ms=DAY_MS,
    )
    if not indexed:
        await store.execute("DROP INDEX batch_items_claimable")
    if url is not None:
        await store.execute("ANALYZE")
    return store, jobs


async def _claim_ms(store: Any, jobs: JobStore) -> float:
    started = time.perf_counter()
    claimed = await jobs.claim("bench", 4, lease_ms=60_000)
    elapsed = (time.perf_counter() - started) * 1000
    assert claimed, "nothing to claim"
    await store.execute(
        "UPDATE batch_items SET lease_owner = NULL, lease_until_ms = NULL "
        "WHERE lease_owner = 'bench'"
    )
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--url", help="a PostgreSQL server (default: SQLite files)")
    args = parser.parse_args()
    stores = {
        "with the partial index": await _store(args.url, "claim_idx", args.items, True),
        "without it": await _store(args.url, "claim_noidx", args.items, False),
    }
    times: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(args.rounds):
        for name, (store, jobs) in stores.items():
            times[name].append(await _claim_ms(store, jobs))
    for store, _ in stores.values():
        await store.aclose()
    if args.url:
        await _admin(
            args.url, *(f"DROP DATABASE IF EXISTS {n}" for n in ("claim_idx", "claim_noidx"))
        )
    backend = "PostgreSQL" if args.url else "SQLite"
    print(f"{backend}, {args.items:,} parked items, median of {args.rounds} claims of 4 items:")
    for name, values in times.items():
        print(f"  {name}: {statistics.median(values):.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
