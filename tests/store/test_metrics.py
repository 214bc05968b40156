"""Prometheus metrics: what ``observe`` counts, the exposition text, the log's health."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tiergate.observability.metrics import Metrics
from tiergate.store.records import RequestRecord
from tiergate.store.request_log import RequestLog


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_observe_counts_requests_tokens_cost_latency() -> None:
    metrics = Metrics()
    for i in range(3):
        metrics.observe(
            RequestRecord(
                id=f"r{i}",
                ts_ms=0,
                model="claude-haiku-4-5",
                route="triage",
                input_tokens=800,
                output_tokens=50,
                cache_read_tokens=100 if i == 0 else 0,
                cost_usd=Decimal("0.00105"),
                latency_ms=120.0,
                ttft_ms=30.0 if i else None,
            )
        )
    metrics.observe(
        RequestRecord(id="e", ts_ms=0, requested_model="auto", status=429, latency_ms=5.0)
    )
    got = samples(metrics)
    haiku = (("model", "claude-haiku-4-5"), ("route", "triage"))
    assert got[("tiergate_requests_total", (*haiku, ("status", "200")))] == 3
    rejected = (("model", "auto"), ("route", "direct"), ("status", "429"))
    assert got[("tiergate_requests_total", rejected)] == 1
    assert got[("tiergate_tokens_total", (("kind", "input"), *haiku))] == 2400
    assert got[("tiergate_tokens_total", (("kind", "cache_read"), *haiku))] == 100
    assert abs(got[("tiergate_cost_usd_total", haiku)] - 0.00315) < 1e-12
    assert got[("tiergate_latency_seconds_count", haiku)] == 3
    assert got[("tiergate_latency_seconds_bucket", (("le", "0.25"), *haiku))] == 3
    assert got[("tiergate_latency_seconds_bucket", (("le", "0.1"), *haiku))] == 0
    assert got[("tiergate_ttft_seconds_count", haiku)] == 2


def test_batch_job_items_are_counted_and_priced_but_not_timed() -> None:
    metrics = Metrics()
    metrics.observe(
        RequestRecord(
            id="i", ts_ms=0, model="m", route="r", latency_ms=300.0, cost_usd=Decimal("0.002")
        )
    )
    metrics.observe(
        RequestRecord(
            id="b",
            ts_ms=0,
            model="m",
            route="r",
            latency_ms=0.2,
            ttft_ms=0.1,
            cost_usd=Decimal("0.001"),
            batch_id="batch_1",
        )
    )
    got = samples(metrics)
    series = (("model", "m"), ("route", "r"))
    assert got[("tiergate_requests_total", (*series, ("status", "200")))] == 2
    assert abs(got[("tiergate_cost_usd_total", series)] - 0.003) < 1e-12
    assert got[("tiergate_latency_seconds_count", series)] == 1
    assert got[("tiergate_latency_seconds_sum", series)] == 0.3
    assert got.get(("tiergate_ttft_seconds_count", series), 0) == 0


def test_histogram_buckets_are_less_or_equal_and_cumulative() -> None:
    """A latency exactly on a bound counts in that bucket (Prometheus' ``le``), buckets are
    cumulative, and repeat (model, route) pairs add to one series."""
    metrics = Metrics()
    for latency_ms in (100.0, 100.0, 100.1, 200_000.0):
        metrics.observe(RequestRecord(id="r", ts_ms=0, model="m", route="r", latency_ms=latency_ms))
    got = samples(metrics)
    series = (("model", "m"), ("route", "r"))
    assert got[("tiergate_latency_seconds_bucket", (("le", "0.05"), *series))] == 0
    assert got[("tiergate_latency_seconds_bucket", (("le", "0.1"), *series))] == 2
    assert got[("tiergate_latency_seconds_bucket", (("le", "0.25"), *series))] == 3
    assert got[("tiergate_latency_seconds_bucket", (("le", "120.0"), *series))] == 3
    assert got[("tiergate_latency_seconds_bucket", (("le", "+Inf"), *series))] == 4
    assert got[("tiergate_latency_seconds_count", series)] == 4
    assert abs(got[("tiergate_latency_seconds_sum", series)] - 200.3001) < 1e-9
    assert got[("tiergate_requests_total", (*series, ("status", "200")))] == 4


async def test_log_health_is_exported(store: Any) -> None:
    metrics = Metrics()
    log = RequestLog(store)
    metrics.watch_log(log)
    log.submit(RequestRecord(id="a", ts_ms=0, latency_ms=1.0))
    assert samples(metrics)[("tiergate_log_pending", ())] == 1
    await log.start()
    await log.aclose()
    got = samples(metrics)
    assert got[("tiergate_log_written_total", ())] == 1
    assert got[("tiergate_log_pending", ())] == 0
    assert got[("tiergate_log_dropped_total", ())] == 0
