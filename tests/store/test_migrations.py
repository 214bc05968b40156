"""Schema migrations: applied on open, recorded, idempotent, and the money columns exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tiergate.errors import ConfigError
from tiergate.store.backend import open_store
from tiergate.store.migrations import MIGRATIONS


async def test_migrations_apply_once_in_order(store_url: str) -> None:
    names = [m.name for m in MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    for _ in range(3):  # reopening applies nothing twice (it would fail: CREATE TABLE)
        store = await open_store(store_url)
        rows = await store.fetchall("SELECT name FROM schema_migrations ORDER BY name")
        assert [r[0] for r in rows] == names
        await store.aclose()


async def test_nano_rows_of_an_older_schema_are_carried_to_pico(tmp_path: Path) -> None:
    """A log written before 0003 keeps its money, now in pico-dollars."""
    import sqlite3

    from tiergate.store.sqlite_store import MIGRATIONS_TABLE

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(MIGRATIONS_TABLE)
    for migration in MIGRATIONS[:2]:
        for sql in migration.statements("sqlite"):
            db.execute(sql)
        db.execute("INSERT INTO schema_migrations VALUES (?, 0)", (migration.name,))
    db.execute(
        "INSERT INTO requests (id, ts_ms, tenant, client_format, requested_model, attempts, "
        "input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_nusd, "
        "latency_ms, status, refusal, tool_calls, stream, byok) "
        "VALUES ('r1', 0, 't', 'openai', 'm', 1, 0, 0, 0, 0, 1050000, 1.0, 200, 0, 0, 0, 0)"
    )
    db.commit()
    db.close()
    store = await open_store(f"sqlite:///{path}")
    assert await store.fetchall("SELECT cost_pusd FROM requests") == [(1_050_000_000,)]
    await store.aclose()


async def test_items_that_ran_live_by_sentinel_get_live_only(tmp_path: Path) -> None:
    """An item marked to run live by the old sentinel (``upstream = ''``) keeps running live,
    said by ``live_only`` now; a parked item keeps its deployment."""
    import sqlite3

    from tiergate.store.sqlite_store import MIGRATIONS_TABLE

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(MIGRATIONS_TABLE)
    before = [m for m in MIGRATIONS if m.name < "0018_batch_live_only"]
    for migration in before:
        for sql in migration.statements("sqlite"):
            db.execute(sql)
        db.execute("INSERT INTO schema_migrations VALUES (?, 0)", (migration.name,))
    items = [(0, ""), (1, "dep-a"), (2, None)]
    for n, upstream in items:
        db.execute(
            "INSERT INTO batch_items (batch_id, n, custom_id, params, state, upstream) "
            "VALUES ('b', ?, 'c', '{}', 'queued', ?)",
            (n, upstream),
        )
    db.commit()
    db.close()
    store = await open_store(f"sqlite:///{path}")
    rows = await store.fetchall("SELECT n, upstream, live_only FROM batch_items ORDER BY n")
    assert [(n, up, bool(live)) for n, up, live in rows] == [
        (0, None, True),
        (1, "dep-a", False),
        (2, None, False),
    ]
    await store.aclose()


async def test_sqlite_is_wal_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_DATA_DIR", str(tmp_path / "data"))
    store: Any = await open_store(None)
    assert (tmp_path / "data" / "tiergate.db").exists()
    assert await store.fetchall("PRAGMA journal_mode") == [("wal",)]
    await store.aclose()


async def test_unknown_url_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="sqlite:///PATH or postgresql://"):
        await open_store("mysql://x")
