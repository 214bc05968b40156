"""Prometheus metrics: requests, tokens, cost and latency by model and route.

One registry per gateway (not prometheus_client's global one), so tests and several apps in
one process never collide. ``observe`` runs once per request, so it only adds to plain numbers
kept per (model, route) pair: a few integer additions and one bisect for each histogram, no
lock, no label lookup. prometheus_client's own ``Counter``/``Histogram`` take a lock on every
increment (six per request here), which cost more than everything else ``observe`` does. The
numbers become metric families only at scrape time (``_RequestCollector``), and prometheus_client
still writes the exposition format. All of this runs on the event loop's thread; a scrape reads
numbers that only ever grow, so it never sees a torn value worse than one request behind. The
request log's own health (rows queued, written, dropped, refused) is read at scrape time too.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from tiergate.store.records import RequestRecord

if TYPE_CHECKING:
    from tiergate.batch import BatchRunner
    from tiergate.batch.upstream_relay import Relay
    from tiergate.store.request_log import RequestLog
    from tiergate.store.rollouts import RolloutRow


class ShadowCounts(Protocol):
    """What the shadow metrics read (``gateway/shadow_calls.py: Shadower`` has it): named here, not
    imported, so metrics need nothing from the server package above them."""

    @property
    def running(self) -> int: ...

    @property
    def launched(self) -> int: ...

    @property
    def skipped(self) -> int: ...


class RolloutCounts(Protocol):
    """What the rollout metrics read (``gateway/rollout_control.py: Rollouts`` has it)."""

    @property
    def rows(self) -> Mapping[str, RolloutRow]: ...

    @property
    def events(self) -> Mapping[tuple[str, str], int]: ...


class JudgedCounts(Protocol):
    """What the judged-pair metrics read (``gateway/judging.py: Judging`` has it)."""

    @property
    def judged(self) -> int: ...

    @property
    def failed(self) -> int: ...


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CONTENT_TYPE = CONTENT_TYPE_LATEST
_TOKEN_KINDS = ("input", "output", "cache_write", "cache_read")


class _Histogram:
    """Counts per bucket (not cumulative; the last slot is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # Prometheus buckets are "less than or equal": bisect_left finds the first bound >= value.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(_le, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


def _le(bound: float) -> str:
    return repr(float(bound))  # the "le" label as prometheus_client writes it: 0.005, 1.0, ...


class _Series:
    """Everything counted for one (model, route) pair."""

    __slots__ = (
        "cost",
        "estimated",
        "estimated_cost",
        "latency",
        "statuses",
        "tokens",
        "ttft",
        "unpriced",
    )

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.tokens = [0, 0, 0, 0]  # in _TOKEN_KINDS order
        self.cost = 0.0
        self.estimated_cost = 0.0  # the part of ``cost`` resting on estimated usage
        self.estimated = 0  # requests whose cost is estimated
        self.unpriced = 0  # answered requests with no price (not in ``cost``, never $0)
        self.latency = _Histogram(LATENCY_BUCKETS)
        self.ttft = _Histogram(TTFT_BUCKETS)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._series: dict[tuple[str, str], _Series] = {}
        self.registry.register(_RequestCollector(self._series))

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request."""
        model = record.model or record.requested_model or "none"
        route = record.route or "direct"
        series = self._series.get((model, route))
        if series is None:
            series = self._series[(model, route)] = _Series()
        statuses = series.statuses
        statuses[record.status] = statuses.get(record.status, 0) + 1
        tokens = series.tokens
        tokens[0] += record.input_tokens
        tokens[1] += record.output_tokens
        tokens[2] += record.cache_creation_tokens
        tokens[3] += record.cache_read_tokens
        if record.cost_usd:
            series.cost += float(record.cost_usd)
            if record.cost_estimated:
                series.estimated_cost += float(record.cost_usd)
        if record.cost_estimated:
            series.estimated += 1
        elif record.cost_usd is None and record.status < 400:
            series.unpriced += 1
        if record.batch_id is not None:
            return  # a batch job's item: counted and priced, but nobody waited on it
        series.latency.observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            series.ttft.observe(record.ttft_ms / 1000)

    def watch_log(self, log: RequestLog) -> None:
        """Export the request log's queue and counters (``tiergate_log_*``) at scrape time."""
        self.registry.register(_LogCollector(log))

    def watch_shadows(self, shadows: ShadowCounts) -> None:
        """Export shadow traffic's counters (``tiergate_shadow_*``) at scrape time."""
        self.registry.register(_ShadowCollector(shadows))

    def watch_rollouts(self, rollouts: RolloutCounts) -> None:
        """Export managed rollouts (``tiergate_rollout_*``) at scrape time."""
        self.registry.register(_RolloutCollector(rollouts))

    def watch_judging(self, judging: JudgedCounts) -> None:
        """Export judged pairs (``tiergate_judged_pairs_total``) at scrape time."""
        self.registry.register(_JudgingCollector(judging))

    def watch_batches(self, runner: BatchRunner, relay: Relay) -> None:
        """Export this replica's batch work (``tiergate_batch_*``) at scrape time."""
        self.registry.register(_BatchCollector(runner, relay))

    def exposition(self) -> bytes:
        """The ``/metrics`` body, in Prometheus text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class _RequestCollector(Collector):
    """Turns the per-(model, route) numbers into metric families when Prometheus scrapes."""

    def __init__(self, series: dict[tuple[str, str], _Series]) -> None:
        self._series = series

    def collect(self) -> Iterator[Any]:
        labels = ["model", "route"]
        requests = CounterMetricFamily(
            "tiergate_requests",
            "Requests by answering model, route and HTTP status",
            labels=[*labels, "status"],
        )
        tokens = CounterMetricFamily(
            "tiergate_tokens",
            "Tokens by kind (input, output, cache_write, cache_read)",
            labels=[*labels, "kind"],
        )
        cost = CounterMetricFamily("tiergate_cost_usd", "Cost in USD", labels=labels)
        estimated_cost = CounterMetricFamily(
            "tiergate_cost_estimated_usd",
            "The part of tiergate_cost_usd resting on estimated usage (not reported upstream)",
            labels=labels,
        )
        estimated = CounterMetricFamily(
            "tiergate_cost_estimated_requests", "Requests whose cost is estimated", labels=labels
        )
        unpriced = CounterMetricFamily(
            "tiergate_unpriced_requests",
            "Answered requests with no price (not in tiergate_cost_usd)",
            labels=labels,
        )
        latency = HistogramMetricFamily(
            "tiergate_latency_seconds",
            "Request latency, first byte in to last byte out",
            labels=labels,
        )
        ttft = HistogramMetricFamily(
            "tiergate_ttft_seconds", "Time to first token (streams)", labels=labels
        )
        for (model, route), series in list(self._series.items()):
            for status, count in sorted(series.statuses.items()):
                requests.add_metric([model, route, str(status)], count)
            for kind, count in zip(_TOKEN_KINDS, series.tokens, strict=True):
                tokens.add_metric([model, route, kind], count)
            cost.add_metric([model, route], series.cost)
            estimated_cost.add_metric([model, route], series.estimated_cost)
            estimated.add_metric([model, route], series.estimated)
            unpriced.add_metric([model, route], series.unpriced)
            latency.add_metric([model, route], series.latency.buckets(), series.latency.total)
            ttft.add_metric([model, route], series.ttft.buckets(), series.ttft.total)
        yield from (requests, tokens, cost, estimated_cost, estimated, unpriced, latency, ttft)


class _LogCollector(Collector):
    def __init__(self, log: RequestLog) -> None:
        self._log = log

    def collect(self) -> Iterator[Any]:
        log = self._log
        yield GaugeMetricFamily(
            "tiergate_log_pending", "Request log rows waiting to be written", value=log.pending
        )
        yield CounterMetricFamily(
            "tiergate_log_written", "Request log rows committed", value=log.written
        )
        yield CounterMetricFamily(
            "tiergate_log_dropped",
            "Request log rows dropped (queue full or closed)",
            value=log.dropped,
        )
        yield CounterMetricFamily(
            "tiergate_log_rejected",
            "Request log rows the store refused",
            value=log.rejected,
        )


class _ShadowCollector(Collector):
    def __init__(self, shadows: ShadowCounts) -> None:
        self._shadows = shadows

    def collect(self) -> Iterator[Any]:
        shadows = self._shadows
        yield GaugeMetricFamily(
            "tiergate_shadow_running", "Shadow calls in flight", value=shadows.running
        )
        yield CounterMetricFamily(
            "tiergate_shadow_launched", "Shadow calls started", value=shadows.launched
        )
        yield CounterMetricFamily(
            "tiergate_shadow_skipped",
            "Sampled requests not shadowed because the route's shadow calls were at their cap",
            value=shadows.skipped,
        )


class _BatchCollector(Collector):
    def __init__(self, runner: BatchRunner, relay: Relay) -> None:
        self._runner = runner
        self._relay = relay

    def collect(self) -> Iterator[Any]:
        runner = self._runner
        yield GaugeMetricFamily(
            "tiergate_batch_running", "Batch items running on this replica", value=runner.running
        )
        yield CounterMetricFamily(
            "tiergate_batch_completed",
            "Batch items this replica ran and stored a result for",
            value=runner.completed,
        )
        yield CounterMetricFamily(
            "tiergate_batch_deferred",
            "Batch item runs that failed in a way waiting can fix, put back to run again later",
            value=runner.deferred,
        )
        yield CounterMetricFamily(
            "tiergate_batch_lease_lost",
            "Batch items whose lease ran out before this replica stored their result (another "
            "replica ran them again: the database was away longer than batch.lease_seconds)",
            value=runner.lost,
        )
        yield CounterMetricFamily(
            "tiergate_batch_upstream_sent",
            "Batch items this replica sent to a provider's batch API (deployments with batch_api)",
            value=self._relay.sent,
        )
        yield CounterMetricFamily(
            "tiergate_batch_upstream_collected",
            "Provider batches whose answers this replica brought back",
            value=self._relay.answered,
        )


class _RolloutCollector(Collector):
    def __init__(self, rollouts: RolloutCounts) -> None:
        self._rollouts = rollouts

    def collect(self) -> Iterator[Any]:
        rollouts = self._rollouts
        percent = GaugeMetricFamily(
            "tiergate_rollout_percent",
            "The candidate's share of a managed rollout, as this replica last read it",
            labels=["route", "model", "state"],
        )
        for route, row in sorted(rollouts.rows.items()):
            percent.add_metric([route, row.model, row.state], row.percent)
        events = CounterMetricFamily(
            "tiergate_rollout_events",
            "Rollout changes this replica made (start, step, rollback), by route and kind",
            labels=["route", "kind"],
        )
        for (route, kind), count in sorted(rollouts.events.items()):
            events.add_metric([route, kind], count)
        yield from (percent, events)


class _JudgingCollector(Collector):
    def __init__(self, judging: JudgedCounts) -> None:
        self._judging = judging

    def collect(self) -> Iterator[Any]:
        judged = CounterMetricFamily(
            "tiergate_judged_pairs",
            "Answer pairs graded by a judge (shadow and rollout)",
            labels=["outcome"],
        )
        judged.add_metric(["judged"], self._judging.judged)
        judged.add_metric(["failed"], self._judging.failed)
        yield judged
