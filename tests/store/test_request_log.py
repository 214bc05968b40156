"""Request log and reports, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from tiergate.redaction import redact
from tiergate.store.backend import open_store
from tiergate.store.records import AttemptRecord, RequestRecord
from tiergate.store.reports import ReportFilter, summary
from tiergate.store.request_log import RequestLog

DAY = 86_400_000
T0 = 1_763_942_400_000  # 2025-11-24 00:00:00 UTC


def record(i: int, **fields: Any) -> RequestRecord:
    base: dict[str, Any] = dict(
        id=f"req_{i}", ts_ms=T0 + i, requested_model="auto", model="claude-haiku-4-5",
        deployment="d", route="auto", attempts=1, input_tokens=800, output_tokens=50,
        cost_usd=Decimal("0.00105"), baseline_cost_usd=Decimal("0.00315"),
        latency_ms=float(i % 100),
    )  # fmt: skip
    base.update(fields)
    return RequestRecord(**base)


async def test_migrations_are_idempotent(store_url: str) -> None:
    for _ in range(2):
        store = await open_store(store_url)
        rows = await store.fetchall("SELECT name FROM schema_migrations ORDER BY name")
        assert [r[0] for r in rows] == ["0001_request_log", "0002_keys_budgets"]
        await store.aclose()


async def test_batched_writes_lose_nothing_and_sum_exactly(store: Any) -> None:
    log = RequestLog(store, batch_size=300, flush_interval=0.05)
    await log.start()
    for i in range(5000):
        log.submit(record(i, attempt_rows=[AttemptRecord(1, 0, "claude-haiku-4-5", "d", "ok")]))
    await log.aclose()
    ((count, total),) = await store.fetchall("SELECT count(*), sum(cost_nusd) FROM requests")
    assert count == 5000
    assert Decimal(total) / Decimal(10**9) == Decimal("5.25")  # 5000 x $0.00105, exact
    ((attempts,),) = await store.fetchall("SELECT count(*) FROM attempts")
    assert attempts == 5000
    assert log.written == 5000 and log.dropped == 0


async def test_summary_of_a_seeded_workload(store: Any) -> None:
    log = RequestLog(store)
    await log.start()
    # Tenant a: 8 Haiku calls on route triage, 2 escalated to Sonnet; tenant b: 1 error.
    for i in range(8):
        log.submit(record(i, tenant="a", route="triage"))
    for i in range(8, 10):
        log.submit(record(
            i, tenant="a", route="triage", model="claude-sonnet-4-6", attempts=2,
            cost_usd=Decimal("0.0042"), baseline_cost_usd=Decimal("0.00315"),
            attempt_rows=[AttemptRecord(1, 0, "claude-haiku-4-5", "d", "validator_failed"),
                          AttemptRecord(2, 1, "claude-sonnet-4-6", "d", "ok")],
        ))  # fmt: skip
    log.submit(
        record(
            10,
            tenant="b",
            route="other",
            status=429,
            cost_usd=None,
            model=None,
            ts_ms=T0 + DAY,
            baseline_cost_usd=None,
            input_tokens=0,
            output_tokens=0,
        )
    )
    await log.aclose()
    data = await summary(store, ReportFilter())
    totals = data["totals"]
    assert totals["requests"] == 11
    assert totals["cost_usd"] == float(Decimal("0.0168"))  # 8 x 0.00105 + 2 x 0.0042
    assert totals["baseline_usd"] == float(Decimal("0.0315"))
    assert abs(totals["savings_usd"] - 0.0147) < 1e-12
    assert totals["error_rate"] == 1 / 11
    assert totals["escalation_rate"] == 2 / 11
    assert [d["day"] for d in data["by_day"]] == ["2025-11-24", "2025-11-25"]
    models = {m["model"]: m for m in data["by_model"]}
    assert models["claude-haiku-4-5"]["requests"] == 8
    assert models["claude-haiku-4-5"]["p50_ms"] in (3.0, 4.0)
    tiers = {(t["tier"], t["model"]): t for t in data["tiers"]}
    assert tiers[(0, "claude-haiku-4-5")]["escalated"] == 2
    only_b = await summary(store, ReportFilter(tenant="b"))
    assert only_b["totals"]["requests"] == 1
    assert {t["tenant"] for t in only_b["by_tenant"]} == {"b"}
    window = await summary(store, ReportFilter(since_ms=T0 + DAY))
    assert window["totals"]["requests"] == 1


def test_redaction() -> None:
    text = (
        "mail bob.smith@example.com, call +1 415-555-0134, card 4111 1111 1111 1111, "
        "order 1234 5678 9012 3456, key sk-ant-api03-abcdefghijklmnop, Bearer abc.def-ghi_jkl"
    )
    out = redact(text)
    for secret in ("bob.smith@example.com", "415-555-0134", "4111 1111 1111 1111",
                   "sk-ant-api03", "abc.def-ghi_jkl"):  # fmt: skip
        assert secret not in out
    assert "[EMAIL]" in out and "[CARD]" in out and "[API_KEY]" in out and "[PHONE]" in out
    assert "1234 5678 9012 3456" in out  # fails the Luhn check: not a card


async def test_tenant_time_filters_parse() -> None:
    f = ReportFilter.from_query({"since": "2025-11-24", "until": "2025-11-24", "tenant": "a"})
    assert f.since_ms == T0 and f.until_ms == T0 + DAY and f.tenant == "a"
    recent = ReportFilter.from_query({"since": "7d"})
    assert recent.since_ms is not None and recent.since_ms < time.time() * 1000
