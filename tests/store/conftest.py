"""A fresh store per test, on SQLite and on PostgreSQL.

PostgreSQL comes from ``TIERGATE_TEST_DATABASE_URL`` (``.ci/postgres.sh`` starts one). Without
it the PostgreSQL half is skipped on a developer machine, but fails under CI=true so CI can
never pass by skipping it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.store.workload import workload
from tiergate.store.backend import open_store
from tiergate.store.request_log import RequestLog

ADMIN_URL = os.environ.get("TIERGATE_TEST_DATABASE_URL")


def _fresh_postgres_url() -> Iterator[str]:
    if not ADMIN_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("TIERGATE_TEST_DATABASE_URL is not set under CI: run .ci/postgres.sh")
        pytest.skip("no PostgreSQL: set TIERGATE_TEST_DATABASE_URL (see .ci/postgres.sh)")
    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tiergate.db'}"
    else:
        yield from _fresh_postgres_url()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[object]:
    opened = await open_store(store_url)
    yield opened
    await opened.aclose()


@pytest.fixture
async def seeded(store: Any) -> Any:
    """The store with ``workload()`` written through the request log."""
    log = RequestLog(store)
    await log.start()
    for record in workload():
        log.submit(record)
    await log.aclose()
    assert log.written == len(workload())
    return store
