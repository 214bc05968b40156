"""Turns a finished ``RequestTrace`` into a request-log row and metrics.

Runs after the response has been sent (it is the trace's ``on_finish``), so nothing here adds
to the latency a client sees; the log write itself happens later, in a batch.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.cost import cache_savings_usd
from tiergate.redaction import redact
from tiergate.store.records import AttemptRecord, RequestRecord
from tiergate.types import ChatRequest, Usage

if TYPE_CHECKING:
    from tiergate.observability.metrics import Metrics
    from tiergate.server.record import RequestTrace
    from tiergate.store.request_log import RequestLog


class Recorder:
    def __init__(self, log: RequestLog | None, metrics: Metrics | None, bodies: bool) -> None:
        self._log = log
        self._metrics = metrics
        self._bodies = bodies

    def __call__(self, trace: RequestTrace) -> None:
        record = build_record(trace, self._bodies)
        if self._log is not None:
            self._log.submit(record)
        if self._metrics is not None:
            self._metrics.observe(record)


def build_record(trace: RequestTrace, bodies: bool = False) -> RequestRecord:
    request = trace.request
    principal = trace.principal
    source = trace.outcome or trace.stream
    attempts = trace.attempts
    usage = Usage()
    for attempt in attempts:
        if attempt.usage is not None:
            usage = usage.add(attempt.usage)
    record = RequestRecord(
        id=trace.request_id,
        ts_ms=int(time.time() * 1000),
        tenant=principal.tenant if principal else "default",
        key_id=principal.key_id if principal else None,
        client_format=trace.client_format,
        requested_model=request.model if request else "",
        route=trace.plan.policy if trace.plan else None,
        reason=trace.plan.reason if trace.plan else None,
        attempts=len(attempts),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_tokens=usage.cache_creation_input_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        latency_ms=trace.latency_ms,
        status=trace.status,
        error_class=trace.error.kind if trace.error else None,
        stream=bool(request and request.stream),
    )
    bill = trace.bill
    if bill is not None:
        record.cost_usd, record.credits, record.baseline_cost_usd = (
            bill.usd,
            bill.credits,
            bill.baseline_usd,
        )
    for attempt, cost in zip(
        attempts, bill.attempt_usd if bill else [None] * len(attempts), strict=False
    ):
        used = attempt.usage or Usage()
        record.attempt_rows.append(
            AttemptRecord(
                attempt.n, attempt.tier, attempt.model.id, attempt.deployment.name,
                attempt.outcome, attempt.status, used.input_tokens, used.output_tokens,
                used.cache_creation_input_tokens, used.cache_read_input_tokens, cost,
                attempt.latency_ms, attempt.error,
            )
        )  # fmt: skip
    if source is not None:
        record.model = source.model.id
        record.deployment = source.deployment.name
        record.tier = source.tier
        record.byok = source.deployment.byok
        final = attempts[-1].usage if attempts and attempts[-1].usage else None
        if final is not None:
            record.cache_savings_usd = cache_savings_usd(final, source.model)
    calls: list[tuple[str, Any]] = []
    response_text = ""
    if trace.outcome is not None:
        response = trace.outcome.response
        record.stop_reason = response.stop_reason
        calls = [(b.name, b.input) for b in response.tool_uses()]
        response_text = response.text()
    elif trace.stream is not None:
        record.stop_reason = trace.stream.stop_reason
        record.ttft_ms = trace.stream.ttft_ms
        calls = [(name, _parse(arguments)) for name, arguments in trace.stream.tool_calls.values()]
    record.refusal = record.stop_reason == "refusal"
    record.tool_calls = len(calls)
    if calls and request is not None:
        record.tool_args_valid = all(_valid_arguments(request, name, args) for name, args in calls)
    if bodies and request is not None:
        record.prompt = redact(request.text())
        record.response = redact(response_text) if response_text else None
    return record


def _parse(arguments: str) -> Any:
    try:
        return orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return None


def _valid_arguments(request: ChatRequest, name: str, arguments: Any) -> bool:
    """Whether a tool call's arguments are a JSON object matching that tool's input schema."""
    if not isinstance(arguments, dict):
        return False
    tool = next((t for t in request.tools if t.name == name), None)
    if tool is None:
        return False
    import jsonschema

    try:
        jsonschema.validate(arguments, tool.input_schema)
    except jsonschema.ValidationError:
        return False
    except jsonschema.SchemaError:
        return True  # the caller's schema is broken; the arguments are not at fault
    return True
