"""What one request did, collected as it runs and priced once when it ends.

The same ``RequestTrace`` feeds the response headers, the request log and the metrics, so the
figures a client sees in ``x-tiergate-cost-usd`` are the figures stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tiergate.errors import GatewayError
from tiergate.executor import answer_usage
from tiergate.routing.plan import clean_reason
from tiergate.types import ChatRequest

if TYPE_CHECKING:
    from tiergate.cost.billing import Accountant, Bill
    from tiergate.executor import Attempt, Outcome, StreamOutcome
    from tiergate.gateway.auth import Principal
    from tiergate.routing.plan import Plan
    from tiergate.tenancy import Reservation


@dataclass(slots=True)
class RequestTrace:
    request_id: str
    client_format: str
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    request: ChatRequest | None = None
    plan: Plan | None = None
    outcome: Outcome | None = None
    stream: StreamOutcome | None = None
    bill: Bill | None = None
    reservation: Reservation | None = None
    status: int = 0
    error: GatewayError | None = None
    latency_ms: float = 0.0
    on_finish: Callable[[RequestTrace], None] | None = None
    finished: bool = False
    # Set just before the response's status line is sent: from then on a failure can no
    # longer be answered as an HTTP error.
    responded: bool = False
    # Answered through a provider's batch API: priced at batch rates.
    batch: bool = False
    # The batch job this request is an item of (logged; kept out of latency figures).
    batch_id: str | None = None
    # Links rows that belong together (a multi-call route's calls, an agent conversation's
    # turns); sent back as ``x-tiergate-trace-id``.
    trace_id: str | None = None
    # Headers a route adds to its answer (draft-then-review: which draft won).
    extra_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    # Every upstream attempt as the executor makes it, kept when the request fails in the end
    # (an escalation that was paid for, then a failing last rung, is billed and logged).
    attempts: list[Attempt] = field(default_factory=list)

    def reason(self) -> str | None:
        """The plan's reason, and why a fallback answered if one did."""
        if self.plan is None:
            return None
        source = self.outcome or self.stream
        if source is None or source.note is None:
            return self.plan.reason
        return clean_reason(f"{self.plan.reason}; {source.note}")

    def answered_by(self) -> str | None:
        source = self.outcome or self.stream
        return source.model.id if source is not None else None

    def finish(
        self, accountant: Accountant | None, *, status: int, error: GatewayError | None = None
    ) -> None:
        """Price the attempts and hand the trace to the log; runs once per request."""
        if self.finished:
            return
        self.finished = True
        self.status = status
        self.error = error
        self.latency_ms = (time.perf_counter() - self.started) * 1000
        if accountant is not None and self.attempts:
            baseline = self.plan.baseline if self.plan is not None else None
            self.bill = accountant.bill(self.attempts, batch=self.batch, baseline=baseline)
        plan = self.plan
        if plan is not None and plan.observe is not None and status == 200:
            source = self.outcome or self.stream
            if source is not None:
                plan.observe(source.model.id, answer_usage(self.attempts))
        if self.on_finish is not None:
            self.on_finish(self)

    def stream_headers(self) -> list[tuple[bytes, bytes]]:
        """The ``x-tiergate-*`` headers known when the first byte goes out, as ASGI pairs."""
        headers = [(b"x-tiergate-request-id", self.request_id.encode())]
        source = self.outcome or self.stream
        if source is not None:
            headers += (
                (b"x-tiergate-model", _latin1(source.model.id)),
                (b"x-tiergate-deployment", _latin1(source.deployment.name)),
                (b"x-tiergate-tier", b"%d" % source.tier),
                (b"x-tiergate-attempts", b"%d" % len(source.attempts)),
            )
        if self.trace_id is not None:
            headers.append((b"x-tiergate-trace-id", _latin1(self.trace_id)))
        if self.plan is not None:
            headers.append((b"x-tiergate-route", _latin1(self.plan.policy)))
            headers.append((b"x-tiergate-reason", _latin1(self.reason() or "")))
        if self.extra_headers:
            headers += self.extra_headers
        return headers

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """``stream_headers`` plus what only a finished request knows: its cost."""
        headers = self.stream_headers()
        if self.bill is not None:
            headers.append((b"x-tiergate-cost-usd", self.bill.header().encode()))
            if self.bill.estimated:  # usage the upstream did not report was estimated
                headers.append((b"x-tiergate-cost-estimated", b"true"))
            if self.bill.credits is not None:
                headers.append((b"x-tiergate-credits", format(self.bill.credits, "f").encode()))
        return headers


def _latin1(value: str) -> bytes:
    """Header values are bytes; names from config could hold any character."""
    return value.encode("latin-1", "replace")
