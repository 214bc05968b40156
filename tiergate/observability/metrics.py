"""Prometheus metrics: requests, tokens, cost and latency by model and route.

One registry per gateway (not prometheus_client's global one), so tests and several apps in
one process never collide. ``observe`` runs once per request after the response is sent; the
label children of each (model, route) pair are resolved once and cached, so a repeat pair
costs one dict lookup plus the counter increments (``labels()`` would take a lock and build
a key on every call). The request log's own health (rows queued, written, dropped, refused)
is read at scrape time by ``watch_log``, never counted on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from tiergate.store.records import RequestRecord

if TYPE_CHECKING:
    from tiergate.store.request_log import RequestLog

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CONTENT_TYPE = CONTENT_TYPE_LATEST
_TOKEN_KINDS = ("input", "output", "cache_write", "cache_read")


class _Children:
    """The pre-resolved label children of one (model, route) pair."""

    __slots__ = ("cost", "latency", "status", "tokens", "ttft")

    def __init__(self, metrics: Metrics, model: str, route: str) -> None:
        self.tokens = tuple(metrics.tokens.labels(model, route, kind) for kind in _TOKEN_KINDS)
        self.cost = metrics.cost.labels(model, route)
        self.latency = metrics.latency.labels(model, route)
        self.ttft = metrics.ttft.labels(model, route)
        self.status: dict[int, Any] = {}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("model", "route")
        self.requests = Counter(
            "tiergate_requests", "Requests by answering model, route and HTTP status",
            (*labels, "status"), registry=self.registry,
        )  # fmt: skip
        self.tokens = Counter(
            "tiergate_tokens", "Tokens by kind (input, output, cache_write, cache_read)",
            (*labels, "kind"), registry=self.registry,
        )  # fmt: skip
        self.cost = Counter("tiergate_cost_usd", "Cost in USD", labels, registry=self.registry)
        self.latency = Histogram(
            "tiergate_latency_seconds", "Request latency, first byte in to last byte out",
            labels, buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.ttft = Histogram(
            "tiergate_ttft_seconds", "Time to first token (streams)", labels,
            buckets=TTFT_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._children: dict[tuple[str, str], _Children] = {}

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request (cheap: cached children, no allocation on repeats)."""
        model = record.model or record.requested_model or "none"
        route = record.route or "direct"
        children = self._children.get((model, route))
        if children is None:
            children = self._children[(model, route)] = _Children(self, model, route)
        status = children.status.get(record.status)
        if status is None:
            status = children.status[record.status] = self.requests.labels(
                model, route, str(record.status)
            )
        status.inc()
        for child, value in zip(
            children.tokens,
            (record.input_tokens, record.output_tokens, record.cache_creation_tokens,
             record.cache_read_tokens),
            strict=True,
        ):  # fmt: skip
            if value:
                child.inc(value)
        if record.cost_usd:
            children.cost.inc(float(record.cost_usd))
        children.latency.observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            children.ttft.observe(record.ttft_ms / 1000)

    def watch_log(self, log: RequestLog) -> None:
        """Export the request log's queue and counters (``tiergate_log_*``) at scrape time."""
        self.registry.register(_LogCollector(log))

    def exposition(self) -> bytes:
        """The ``/metrics`` body, in Prometheus text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class _LogCollector(Collector):
    def __init__(self, log: RequestLog) -> None:
        self._log = log

    def collect(self) -> Iterator[Any]:
        log = self._log
        yield GaugeMetricFamily(
            "tiergate_log_pending", "Request log rows waiting to be written", value=log.pending
        )
        for name, help_text, value in (
            ("tiergate_log_written", "Request log rows committed", log.written),
            ("tiergate_log_dropped", "Request log rows dropped (queue full or closed)",
             log.dropped),
            ("tiergate_log_rejected", "Request log rows the store refused", log.rejected),
        ):  # fmt: skip
            yield CounterMetricFamily(name, help_text, value=value)
