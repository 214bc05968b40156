"""Fixtures shared by the end-to-end tests."""

from collections.abc import Iterator

import pytest

from tests.e2e.gateway_fixtures import *  # noqa: F403
from tests.support.pg_cluster import PgCluster


@pytest.fixture
def own_postgres() -> Iterator[PgCluster]:
    """A PostgreSQL server of the test's own, which it may stop and start."""
    try:
        cluster = PgCluster()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    with cluster:
        yield cluster
