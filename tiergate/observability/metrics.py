"""Prometheus metrics: requests, tokens, cost and latency by model and route.

One registry per gateway (not the global default), so tests and several apps in one process
don't collide. ``observe`` runs after the response is sent; label children are cached so it is
a few dict lookups and additions.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tiergate.store.records import RequestRecord

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("model", "route", "status")
        self.requests = Counter("tiergate_requests", "Requests", labels, registry=self.registry)
        self.tokens = Counter(
            "tiergate_tokens", "Tokens by kind", ("model", "route", "kind"), registry=self.registry
        )
        self.cost = Counter(
            "tiergate_cost_usd", "Cost in USD", ("model", "route"), registry=self.registry
        )
        self.latency = Histogram(
            "tiergate_latency_seconds", "Request latency", ("model", "route"),
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.ttft = Histogram(
            "tiergate_ttft_seconds", "Time to first token (streams)", ("model", "route"),
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.log_dropped = Counter(
            "tiergate_log_dropped", "Request log rows dropped (store unavailable too long)",
            registry=self.registry,
        )  # fmt: skip

    def observe(self, record: RequestRecord) -> None:
        model = record.model or record.requested_model or "none"
        route = record.route or "direct"
        self.requests.labels(model, route, str(record.status)).inc()
        for kind, value in (
            ("input", record.input_tokens),
            ("output", record.output_tokens),
            ("cache_write", record.cache_creation_tokens),
            ("cache_read", record.cache_read_tokens),
        ):
            if value:
                self.tokens.labels(model, route, kind).inc(value)
        if record.cost_usd:
            self.cost.labels(model, route).inc(float(record.cost_usd))
        self.latency.labels(model, route).observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self.ttft.labels(model, route).observe(record.ttft_ms / 1000)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
