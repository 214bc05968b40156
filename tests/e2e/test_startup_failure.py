"""A start-up that fails part-way closes what it had opened before the error goes on: the
store's pool or threads, the request log's writer, the holder's lease task, the batch runner.

Why: the error is handled by someone who goes on living (``client.serve`` in a caller's
process, a supervisor that retries, a test): a store left open there holds database
connections, or SQLite threads and file handles, for as long as that process runs."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.store.conftest import ADMIN_URL, _fresh_postgres_url
from tiergate.config import load_settings
from tiergate.errors import ConfigError
from tiergate.gateway.factory import build_gateway, prepare
from tiergate.server.app import App


def _pending(before: set[asyncio.Task[object]]) -> list[asyncio.Task[object]]:
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()]


def _store_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("tiergate-sqlite")]


def _connections(database_url: str, role: str | None = None) -> int:
    """Sessions on the database of ``database_url`` (of ``role`` only, if given)."""
    database = database_url.rsplit("/", 1)[1]
    assert ADMIN_URL is not None
    with psycopg.connect(ADMIN_URL) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND (%s::text IS NULL OR usename = %s)",
            (database, role, role),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _user(database_url: str) -> str:
    return database_url.split("//", 1)[1].split("@", 1)[0]


async def test_open_mode_refused_on_a_public_host_leaves_nothing_open(
    database_url: str | None, tmp_path: Path
) -> None:
    """No key exists and the host is public: start-up refuses after the gateway (store, log,
    lease, batch runner) is built; all of it is closed again."""
    overrides = {"host": "0.0.0.0", "data_dir": str(tmp_path), "database_url": database_url}
    app = App(prepare(load_settings(None, env={}, overrides=overrides)))
    threads, before = _store_threads(), asyncio.all_tasks()
    with pytest.raises(ConfigError, match="only on loopback"):
        await app.startup()
    assert _pending(before) == []
    assert _store_threads() == threads
    if database_url is not None:
        assert _connections(database_url) == 0


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_postgres_url()


@pytest.fixture
def read_only_role(postgres_url: str) -> Iterator[str]:
    """A role that may read the gateway's tables but not write them (granted SELECT only, as
    a reporting role is): start-up gets past the migrations, then fails at its first write
    (the holder's lease). Yields the database URL for that role."""
    role = "ro_" + secrets.token_hex(4)

    async def migrate() -> None:
        from tiergate.store.backend import open_store

        store = await open_store(postgres_url)
        await store.aclose()

    asyncio.run(migrate())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {role}")  # for IF NOT EXISTS
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    yield postgres_url.replace("//" + _user(postgres_url) + "@", f"//{role}@")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"REVOKE ALL ON DATABASE {postgres_url.rsplit('/', 1)[1]} FROM {role}")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {role}")


async def test_a_database_refusing_a_write_at_start_up_leaves_no_connection(
    read_only_role: str,
) -> None:
    role = _user(read_only_role)
    settings = load_settings(None, env={}, overrides={"database_url": read_only_role})
    before = asyncio.all_tasks()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        await build_gateway(settings)
    assert _pending(before) == []  # the pool's workers, the request log's writer
    assert _connections(read_only_role, role) == 0
