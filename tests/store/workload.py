"""A small seeded workload whose every report figure is worked out by hand below.

Prices: Haiku $1/$5 per million tokens, Sonnet $3/$15; the baseline is always-Sonnet.
Day 1 (2025-11-24), tenant acme, route triage (a Haiku -> Sonnet ladder):
  6 Haiku answers, 800 in / 50 out: $0.00105 each (baseline $0.00315); latency 100..600 ms;
    one of them a refusal.
  2 escalated: Haiku failed validation ($0.00105), Sonnet answered ($0.00315): $0.0042 each,
    baseline $0.00315; latency 1000 and 2000 ms.
Day 2 (2025-11-25), tenant globex, route code (Sonnet directly, streamed):
  3 Sonnet answers, 1000 in / 200 out: $0.006; the third also read 10,000 cached tokens
    ($0.003 more, saving 10,000 x $2.70/M = $0.027): latency 1500/2500/3500, TTFT 100/200/300;
    the first made 1 valid tool call, the second 2 invalid ones.
  1 error: 429 from the provider, unpriced, no answering model.
Totals: 12 requests, cost $0.0357, baseline $0.0462, saved $0.0105, cache saved $0.027.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tiergate.store.records import AttemptRecord, RequestRecord

DAY = 86_400_000
T0 = 1_763_942_400_000  # 2025-11-24 00:00:00 UTC
HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-6"
D = Decimal


def _record(n: int, **fields: Any) -> RequestRecord:
    return RequestRecord(id=f"req_{n:03d}", **fields)


def workload() -> list[RequestRecord]:
    rows: list[RequestRecord] = []
    for i in range(6):
        rows.append(
            _record(
                i,
                ts_ms=T0 + 3_600_000 + i,
                tenant="acme",
                route="triage",
                requested_model="triage",
                model=HAIKU,
                tier=0,
                attempts=1,
                input_tokens=800,
                output_tokens=50,
                cost_usd=D("0.00105"),
                baseline_cost_usd=D("0.00315"),
                latency_ms=100.0 * (i + 1),
                refusal=i == 5,
                stop_reason="refusal" if i == 5 else "end_turn",
                attempt_rows=[
                    AttemptRecord(
                        n=1,
                        tier=0,
                        model=HAIKU,
                        deployment="anthropic",
                        outcome="ok",
                        status=200,
                        input_tokens=800,
                        output_tokens=50,
                        cost_usd=D("0.00105"),
                        latency_ms=100.0 * (i + 1),
                    )
                ],
            )
        )
    for i, latency in ((6, 1000.0), (7, 2000.0)):
        rows.append(
            _record(
                i,
                ts_ms=T0 + 7_200_000 + i,
                tenant="acme",
                route="triage",
                requested_model="triage",
                model=SONNET,
                tier=1,
                attempts=2,
                input_tokens=1600,
                output_tokens=100,
                cost_usd=D("0.0042"),
                baseline_cost_usd=D("0.00315"),
                latency_ms=latency,
                attempt_rows=[
                    AttemptRecord(
                        n=1,
                        tier=0,
                        model=HAIKU,
                        deployment="anthropic",
                        outcome="validator_failed",
                        status=200,
                        input_tokens=800,
                        output_tokens=50,
                        cost_usd=D("0.00105"),
                        latency_ms=300.0,
                        error="not one of the labels",
                    ),
                    AttemptRecord(
                        n=2,
                        tier=1,
                        model=SONNET,
                        deployment="anthropic",
                        outcome="ok",
                        status=200,
                        input_tokens=800,
                        output_tokens=50,
                        cost_usd=D("0.00315"),
                        latency_ms=latency - 300,
                    ),
                ],
            )
        )
    for i in range(3):
        cached = i == 2
        cost = D("0.009") if cached else D("0.006")
        rows.append(
            _record(
                8 + i,
                ts_ms=T0 + DAY + 60_000 * i,
                tenant="globex",
                route="code",
                requested_model=SONNET,
                model=SONNET,
                tier=0,
                attempts=1,
                stream=True,
                input_tokens=1000,
                output_tokens=200,
                cache_read_tokens=10_000 if cached else 0,
                cost_usd=cost,
                baseline_cost_usd=cost,
                cache_savings_usd=D("0.027") if cached else None,
                latency_ms=1500.0 + 1000 * i,
                ttft_ms=100.0 * (i + 1),
                tool_calls=(1, 2, 0)[i],
                tool_args_valid=(True, False, None)[i],
                attempt_rows=[
                    AttemptRecord(
                        n=1,
                        tier=0,
                        model=SONNET,
                        deployment="anthropic",
                        outcome="ok",
                        status=200,
                        input_tokens=1000,
                        output_tokens=200,
                        cache_read_tokens=10_000 if cached else 0,
                        cost_usd=cost,
                        latency_ms=1500.0 + 1000 * i,
                    )
                ],
            )
        )
    rows.append(
        _record(
            11,
            ts_ms=T0 + DAY + 600_000,
            tenant="globex",
            route="code",
            requested_model=SONNET,
            attempts=1,
            status=429,
            error_class="rate_limit",
            latency_ms=50.0,
            attempt_rows=[
                AttemptRecord(
                    n=1,
                    tier=0,
                    model=SONNET,
                    deployment="anthropic",
                    outcome="provider_error",
                    status=429,
                    latency_ms=50.0,
                    error="rate limited",
                )
            ],
        )
    )
    return rows
