"""What a finished request's log row and metrics say about its money."""

from __future__ import annotations

from decimal import Decimal

from tiergate.catalog import load_catalog
from tiergate.cost.billing import Accountant
from tiergate.executor import Attempt, Outcome
from tiergate.gateway.log_rows import build_record
from tiergate.gateway.trace import RequestTrace
from tiergate.observability.metrics import Metrics
from tiergate.providers.base import Deployment
from tiergate.types import ChatRequest, ChatResponse, Message, TextBlock, Usage

CATALOG = load_catalog()
HAIKU = CATALOG.resolve("claude-haiku-4-5")
DEPLOYMENT = Deployment("a", HAIKU.id, "anthropic", HAIKU.id)


def finished(usage: Usage, *, batch: bool = False, estimated: bool = False) -> RequestTrace:
    request = ChatRequest(model=HAIKU.id, messages=[Message("user", [TextBlock("hi")])])
    attempt = Attempt(1, 0, HAIKU, DEPLOYMENT, usage=usage, status=200, estimated=estimated)
    trace = RequestTrace("req_1", "anthropic", batch=batch)
    trace.request = request
    trace.attempts = [attempt]
    trace.outcome = Outcome(
        response=ChatResponse("m", HAIKU.id, [TextBlock("ok")], "end_turn", usage=usage),
        tier=0,
        model=HAIKU,
        deployment=DEPLOYMENT,
        attempts=trace.attempts,
    )
    trace.finish(Accountant(CATALOG, CATALOG.resolve("sonnet"), None), status=200)
    return trace


def test_a_batch_rows_cache_savings_are_at_batch_rates() -> None:
    """Regression: a batch row's cost was at batch rates but its cache savings at standard
    rates, twice what the cache saved: 10,000 reads x ($0.50 - $0.05) per million = $0.0045."""
    record = build_record(finished(Usage(cache_read_input_tokens=10_000), batch=True))
    assert record.cost_usd == Decimal("0.0005")  # 10,000 x $0.05
    assert record.cache_savings_usd == Decimal("0.0045")
    live = build_record(finished(Usage(cache_read_input_tokens=10_000)))
    assert live.cache_savings_usd == Decimal("0.009")


def test_an_estimated_cost_is_marked_in_the_row_headers_and_metrics() -> None:
    trace = finished(Usage(input_tokens=8, output_tokens=5), estimated=True)
    record = build_record(trace)
    assert record.cost_usd == Decimal("0.000033") and record.cost_estimated
    assert record.attempt_rows[0].estimated
    assert (b"x-tiergate-cost-estimated", b"true") in trace.response_headers()
    metrics = Metrics()
    metrics.observe(record)
    text = metrics.exposition().decode()
    labels = '{model="claude-haiku-4-5",route="direct"}'
    assert f"tiergate_cost_estimated_requests_total{labels} 1.0" in text
    assert f"tiergate_cost_estimated_usd_total{labels} 3.3e-05" in text


def test_an_exact_cost_is_not_marked_estimated() -> None:
    trace = finished(Usage(input_tokens=8, output_tokens=5))
    assert not build_record(trace).cost_estimated
    assert all(name != b"x-tiergate-cost-estimated" for name, _ in trace.response_headers())


def test_unpriced_answers_are_counted_in_the_metrics() -> None:
    record = build_record(finished(Usage(input_tokens=8, code_execution_requests=1)))
    assert record.cost_usd is None
    metrics = Metrics()
    metrics.observe(record)
    text = metrics.exposition().decode()
    assert 'tiergate_unpriced_requests_total{model="claude-haiku-4-5",route="direct"} 1.0' in text
