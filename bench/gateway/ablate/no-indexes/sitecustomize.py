"""Ablation (bench only): the request log without its secondary indexes.

``ab.py --variant no-indexes``: one more migration, run only in this process's fresh data dir,
drops the ``requests`` indexes on ``ts_ms``, ``(tenant, ts_ms)`` and ``(route, ts_ms)`` that
reports use, so the difference is what maintaining them costs per logged request.
"""

import tiergate.store.migrations as migrations

migrations.MIGRATIONS = (
    *migrations.MIGRATIONS,
    migrations.Migration(
        "9999_bench_no_indexes",
        ("DROP INDEX requests_ts", "DROP INDEX requests_tenant_ts", "DROP INDEX requests_route_ts"),
    ),
)
