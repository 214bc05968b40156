"""``GET /health`` reports the store: 200 while it answers, a fast 503 naming it when it is
unreachable or hung, and back to 200 once it answers again; polling it costs the database at
most one query at a time.

Why: a load balancer reads ``/health`` to decide where traffic goes; a gateway whose keyed
requests all fail for want of its database must not call itself healthy, and a hung database
must not hang the health check with it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from tests.store.conftest import _fresh_postgres_url
from tests.support.pg_cluster import PgCluster
from tiergate.gateway.health import PING_SQL


def _health(url: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    response = httpx.get(url + "/health", timeout=10)
    return response.status_code, response.json(), time.monotonic() - started


def test_a_healthy_store_is_200_with_the_fields_of_before(
    make_gateway: Callable[..., str], database_url: str | None
) -> None:
    url = make_gateway(database_url=database_url)
    status, body, _ = _health(url)
    assert status == 200, body
    assert body["status"] == "ok" and body["models"] == 3  # as before the store was checked
    store = body["checks"]["store"]  # type: ignore[index]
    assert store["status"] == "ok"
    assert store["dialect"] == ("sqlite" if database_url is None else "postgresql")
    assert "failing" not in body


def test_an_unreachable_database_is_a_fast_503_naming_the_store_until_it_is_back(
    make_gateway: Callable[..., str], own_postgres: PgCluster
) -> None:
    url = make_gateway(database_url=own_postgres.url, health={"cache_seconds": 0})
    assert _health(url)[0] == 200

    own_postgres.stop()
    answers = [_health(url) for _ in range(5)]
    for status, body, elapsed in answers:
        assert status == 503, body
        assert body["status"] == "unavailable" and body["failing"] == ["store"]
        store = body["checks"]["store"]  # type: ignore[index]
        assert store["status"] == "failing" and "unreachable" in store["error"]
        assert elapsed < 1.5, answers

    own_postgres.start()
    back = time.monotonic()
    while _health(url)[0] != 200:
        assert time.monotonic() - back < 10, "health not back within 10 s of the database"
        time.sleep(0.1)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_postgres_url()


def test_a_hung_database_cannot_hang_health_nor_pile_up_queries(
    postgres_url: str, make_gateway: Callable[..., str]
) -> None:
    """A session holding an exclusive lock on the table the check reads stands for a database
    that takes connections but answers nothing (a migration's lock, a wedged server)."""
    url = make_gateway(database_url=postgres_url, health={"timeout_seconds": 0.5})
    assert _health(url)[0] == 200
    with psycopg.connect(postgres_url) as locker:
        locker.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        time.sleep(1.1)  # past the cached answer
        answers = []
        polled_until = time.monotonic() + 3.5  # the cache (1 s) runs out three times
        while time.monotonic() < polled_until:
            answers.append(_health(url))
            time.sleep(0.1)
        for status, body, elapsed in answers:
            assert status == 503, body
            assert body["failing"] == ["store"]
            error = body["checks"]["store"]["error"]  # type: ignore[index]
            assert error.startswith("no answer within 0.5 s"), error
            assert elapsed < 1.0, answers
        with psycopg.connect(postgres_url, autocommit=True) as watcher:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = %s",
                (PING_SQL,),
            ).fetchone()
        assert waiting == (1,)  # one query waits; no poll added another
    back = time.monotonic()
    while _health(url)[0] != 200:
        assert time.monotonic() - back < 5, "health not back once the lock went"
        time.sleep(0.1)
