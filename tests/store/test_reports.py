"""Every report query on the seeded workload (tests/store/workload.py), figures by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.store.workload import DAY, HAIKU, SONNET, T0
from tiergate.store.ab import compare_models
from tiergate.store.latency import nearest_rank
from tiergate.store.reports import ReportFilter, by_model, grouped, summary, tiers, totals


async def test_totals(seeded: Any) -> None:
    t = await totals(seeded, ReportFilter())
    assert t["requests"] == 12
    assert t["exact"] == {
        "cost_usd": "0.0357",
        "baseline_usd": "0.0462",
        "savings_usd": "0.0105",
        "cache_savings_usd": "0.027",
        "credits": "0",
        "estimated_cost_usd": "0",
    }
    assert t["cost_usd"] == 0.0357 and t["savings_usd"] == 0.0105
    assert (t["input_tokens"], t["output_tokens"], t["cache_read_tokens"]) == (11000, 1100, 10000)
    assert t["cache_hit_rate"] == 10000 / 21000
    assert t["error_rate"] == 1 / 12 and t["escalation_rate"] == 2 / 12
    assert t["refusal_rate"] == 1 / 12
    assert t["tool_calls_requests"] == 2 and t["tool_failure_rate"] == 0.5
    assert t["unpriced_requests"] == 0  # the one unpriced row is an error, not a gap


async def test_spend_and_savings_by_day_tenant_route(seeded: Any) -> None:
    days = await grouped(seeded, {"day": "day"}, ReportFilter())
    assert [(d["day"], d["requests"], d["cost_usd"], d["savings_usd"]) for d in days] == [
        ("2025-11-24", 8, 0.0147, 0.0105),
        ("2025-11-25", 4, 0.021, 0.0),
    ]
    tenants = await grouped(seeded, {"tenant": "tenant"}, ReportFilter())
    assert [(t["tenant"], t["requests"], t["baseline_usd"]) for t in tenants] == [
        ("acme", 8, 0.0252),
        ("globex", 4, 0.021),
    ]
    routes = await grouped(seeded, {"route": "route", "model": "model"}, ReportFilter())
    assert [(r["route"], r["model"], r["requests"]) for r in routes] == [
        ("code", SONNET, 3),
        ("code", None, 1),
        ("triage", HAIKU, 6),
        ("triage", SONNET, 2),
    ] or [(r["route"], r["model"], r["requests"]) for r in routes] == [
        ("code", None, 1),
        ("code", SONNET, 3),
        ("triage", HAIKU, 6),
        ("triage", SONNET, 2),
    ]  # NULL sorts last on PostgreSQL, first on SQLite


async def test_by_model_with_exact_percentiles(seeded: Any) -> None:
    models = {m["model"]: m for m in await by_model(seeded, ReportFilter())}
    haiku, sonnet = models[HAIKU], models[SONNET]
    assert haiku["requests"] == 6 and haiku["cost_usd"] == 0.0063
    # Nearest rank: haiku 100..600 -> p50 = 3rd = 300, p95/p99 = 6th = 600.
    assert (haiku["p50_ms"], haiku["p95_ms"], haiku["p99_ms"]) == (300.0, 600.0, 600.0)
    assert haiku["ttft_p50_ms"] is None
    # Sonnet 1000, 1500, 2000, 2500, 3500 -> p50 = 3rd, p95 = 5th; TTFT 100, 200, 300.
    assert (sonnet["p50_ms"], sonnet["p95_ms"]) == (2000.0, 3500.0)
    assert (sonnet["ttft_p50_ms"], sonnet["ttft_p95_ms"]) == (200.0, 300.0)


def test_nearest_rank_definition() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [nearest_rank(values, p) for p in (50, 95, 99)] == [50.0, 95.0, 99.0]
    assert nearest_rank([7.0], 99) == 7.0 and nearest_rank([], 50) is None


async def test_escalation_rate_per_tier(seeded: Any) -> None:
    rows = {(t["route"], t["tier"], t["model"]): t for t in await tiers(seeded, ReportFilter())}
    first = rows[("triage", 0, HAIKU)]
    assert (first["attempts"], first["escalated"], first["escalation_rate"]) == (8, 2, 0.25)
    assert first["cost_usd"] == 0.0084
    assert rows[("triage", 1, SONNET)]["escalated"] == 0
    code = rows[("code", 0, SONNET)]
    assert (code["attempts"], code["provider_errors"], code["cost_usd"]) == (4, 1, 0.021)


async def test_ab_of_two_models_on_one_route(seeded: Any) -> None:
    ab = await compare_models(seeded, ReportFilter(route="triage"), HAIKU, SONNET)
    assert ab["a"]["requests"] == 6 and ab["b"]["requests"] == 2
    assert ab["delta"]["cost_per_request_usd"] == pytest.approx(0.0042 - 0.00105)
    assert ab["delta"]["p50_ms"] == 1000.0 - 300.0  # Sonnet on triage: 1000, 2000
    assert ab["delta"]["escalation_rate"] == 1.0
    missing = await compare_models(seeded, ReportFilter(route="triage"), HAIKU, "gpt-5.4")
    assert missing["b"]["requests"] == 0 and missing["delta"]["p50_ms"] is None


async def test_tenant_filter_isolates_every_part(seeded: Any) -> None:
    data = await summary(seeded, ReportFilter(tenant="acme"))
    assert data["totals"]["requests"] == 8 and data["totals"]["cost_usd"] == 0.0147
    for part in ("by_tenant", "by_day", "by_route", "by_route_model", "by_model", "tiers"):
        assert data[part], part
    assert {r["tenant"] for r in data["by_tenant"]} == {"acme"}
    assert {r["route"] for r in data["tiers"]} == {"triage"}
    sonnet = next(m for m in data["by_model"] if m["model"] == SONNET)
    assert sonnet["requests"] == 2 and sonnet["p50_ms"] == 1000.0  # globex's 2000+ unseen
    nobody = await summary(seeded, ReportFilter(tenant="initech"))
    assert nobody["totals"]["requests"] == 0 and nobody["by_model"] == []


async def test_time_and_route_filters(seeded: Any) -> None:
    later = await totals(seeded, ReportFilter(since_ms=T0 + DAY))
    assert later["requests"] == 4
    first_day = await totals(seeded, ReportFilter(until_ms=T0 + DAY))
    assert first_day["requests"] == 8
    parsed = ReportFilter.from_query({"since": "2025-11-24", "until": "2025-11-24"})
    assert (parsed.since_ms, parsed.until_ms) == (T0, T0 + DAY)
    assert (await totals(seeded, parsed))["requests"] == 8
    code = await totals(seeded, ReportFilter(route="code"))
    assert code["requests"] == 4 and code["cache_savings_usd"] == 0.027
    with pytest.raises(ValueError, match="span like 7d"):
        ReportFilter.from_query({"since": "last tuesday"})


async def test_groups_without_a_value_sort_last_on_both_databases(seeded: Any) -> None:
    """A failed request has no model; SQLite would sort its NULL group first and PostgreSQL
    last, so the reports put it last on both: the same rows in the same order."""
    models = [row["model"] for row in await by_model(seeded, ReportFilter())]
    assert models[-1] is None and None not in models[:-1]
    assert models[:-1] == sorted(models[:-1])
