"""Reports run off the request path's connections and within bounds, on SQLite and PostgreSQL:
a report query that runs too long is stopped (504) while key look-ups and writes go on, one
that returns too many rows is refused (422); and per tenant, reports are admitted one at a
time and so many a minute (429)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tiergate.errors import RateLimited, ReportTooCostly
from tiergate.gateway.report_admission import ReportAdmission

ENDLESS = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c"


async def test_a_long_report_query_is_stopped_and_holds_up_no_request(store: Any) -> None:
    store.scan_seconds = 1.0
    started = time.monotonic()
    # Two tenants' reports at once: more than SQLite has reader threads for key look-ups.
    reports = [asyncio.ensure_future(store.scan(ENDLESS)) for _ in range(2)]
    await asyncio.sleep(0.2)
    for n in range(20):  # the request path meanwhile: key look-ups and writes
        began = time.monotonic()
        await store.fetchall("SELECT count(*) FROM virtual_keys")
        await store.execute(
            "INSERT INTO rate_windows (key_id, minute, requests, tokens) VALUES (?, ?, 1, 1)",
            ("k", n),
        )
        assert time.monotonic() - began < 0.5
    for report in reports:
        with pytest.raises(ReportTooCostly) as stopped:
            await report
        assert stopped.value.status == 504 and "took longer than 1 s" in stopped.value.message
    # One report at a time runs on SQLite, two on PostgreSQL: both are stopped in time.
    assert time.monotonic() - started < 4.0


async def test_a_report_returning_too_many_rows_is_refused(store: Any) -> None:
    store.scan_rows = 10
    ten = (
        "SELECT n FROM (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c "
        "WHERE n < ?) SELECT n FROM c) AS t"
    )
    assert len(await store.scan(ten, (10,))) == 10
    with pytest.raises(ReportTooCostly) as refused:
        await store.scan(ten, (11,))
    assert refused.value.status == 422 and "more than 10 rows" in refused.value.message


def test_reports_are_admitted_one_at_a_time_and_so_many_a_minute_per_tenant() -> None:
    admission = ReportAdmission(concurrent=1, per_minute=2)
    with admission.enter("acme"):
        with pytest.raises(RateLimited) as busy, admission.enter("acme"):
            pass
        assert busy.value.retry_after == 1.0
        with admission.enter("globex"):  # another tenant is not held up
            pass
    with admission.enter("acme"):
        pass
    with pytest.raises(RateLimited, match="2 reports a minute") as limited:  # noqa: SIM117
        with admission.enter("acme"):
            pass
    assert limited.value.retry_after is not None and 1 <= limited.value.retry_after <= 60
