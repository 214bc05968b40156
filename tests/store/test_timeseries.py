"""Spend and mix over time, and the request list behind a figure, on both stores, against the
hand-worked workload (``tests/store/workload.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.store.workload import DAY, HAIKU, SONNET, T0
from tiergate.store.reports import ReportFilter
from tiergate.store.request_list import RequestQuery, list_requests
from tiergate.store.timeseries import NO_ANSWER, timeseries

HOUR, MINUTE = 3_600_000, 60_000


async def test_hourly_points_hold_each_hours_spend_and_mix(seeded: Any) -> None:
    series = await timeseries(seeded, ReportFilter(since_ms=T0, until_ms=T0 + 2 * DAY))
    assert series["bucket"] == "hour" and len(series["points"]) == 48
    points = {p["t"]: p for p in series["points"]}
    assert [p["t"] for p in series["points"]] == [T0 + h * HOUR for h in range(48)]
    first, second, day2 = points[T0 + HOUR], points[T0 + 2 * HOUR], points[T0 + DAY]
    assert (first["requests"], second["requests"], day2["requests"]) == (6, 2, 4)
    assert first["cost_usd"] == pytest.approx(0.0063)
    assert second["cost_usd"] == pytest.approx(0.0084)
    assert day2["cost_usd"] == pytest.approx(0.021) and day2["errors"] == 1
    assert day2["cache_savings_usd"] == pytest.approx(0.027)
    assert sum(p["requests"] for p in series["points"]) == 12
    mix = series["mix"]
    assert set(mix) == {HAIKU, SONNET, NO_ANSWER}
    assert mix[HAIKU][1] == 6 and mix[SONNET][2] == 2 and mix[SONNET][24] == 3
    assert mix[NO_ANSWER][24] == 1 and sum(mix[NO_ANSWER]) == 1
    assert series["rejected"] == 0  # the 429 was an upstream call, not a rejection


async def test_minute_and_day_buckets(seeded: Any) -> None:
    minutes = await timeseries(seeded, ReportFilter(since_ms=T0 + DAY, until_ms=T0 + DAY + HOUR))
    assert minutes["bucket"] == "minute" and len(minutes["points"]) == 60
    assert [p["requests"] for p in minutes["points"][:11]] == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    days = await timeseries(seeded, ReportFilter(), bucket="day")
    assert [p["requests"] for p in days["points"]] == [8, 4]
    assert [p["t"] for p in days["points"]] == [T0, T0 + DAY]
    whole = await timeseries(seeded, ReportFilter())  # the data's own span: about a day
    assert whole["bucket"] == "hour"
    empty = await timeseries(seeded, ReportFilter(tenant="nobody"))
    assert empty["points"] == [] and empty["mix"] == {}


async def test_tenant_and_route_filters_apply(seeded: Any) -> None:
    acme = await timeseries(seeded, ReportFilter(tenant="acme"), bucket="day")
    assert set(acme["mix"]) == {HAIKU, SONNET} and sum(p["requests"] for p in acme["points"]) == 8
    code = await timeseries(seeded, ReportFilter(route="code"), bucket="day")
    assert sum(p["requests"] for p in code["points"]) == 4


@pytest.mark.parametrize(
    ("outcome", "ids"),
    [
        ("escalated", ["req_007", "req_006"]),
        ("refused", ["req_005"]),
        ("tool_failed", ["req_009"]),
        ("error", ["req_011"]),
        ("rejected", []),
        ("unpriced", []),
    ],
)
async def test_request_list_by_outcome(seeded: Any, outcome: str, ids: list[str]) -> None:
    page = await list_requests(seeded, RequestQuery(ReportFilter(), outcome=outcome))
    assert [row["id"] for row in page["data"]] == ids and page["next"] is None


async def test_request_list_pages_newest_first_without_repeats(seeded: Any) -> None:
    seen: list[dict[str, Any]] = []
    before = None
    while True:
        page = await list_requests(seeded, RequestQuery(ReportFilter(), before=before, limit=5))
        seen += page["data"]
        if page["next"] is None:
            break
        ts, _, request_id = page["next"].partition(":")
        before = (int(ts), request_id)
    assert len(seen) == 12 and len({row["id"] for row in seen}) == 12
    assert [row["ts_ms"] for row in seen] == sorted((row["ts_ms"] for row in seen), reverse=True)
    haiku = await list_requests(seeded, RequestQuery(ReportFilter(tenant="acme"), model=HAIKU))
    assert len(haiku["data"]) == 6 and {r["tenant"] for r in haiku["data"]} == {"acme"}
    assert haiku["data"][0]["cost_usd"] == pytest.approx(0.00105)
