"""Turns a finished ``RequestTrace`` into a request-log row and metrics.

Runs after the response has been sent (it is the trace's ``on_finish``), so nothing here adds
to the latency a client sees; the log write itself happens later, in a batch.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.cost import cache_savings_usd
from tiergate.executor import answer_usage
from tiergate.redaction import redact
from tiergate.store.records import PICO, AttemptRecord, RequestRecord, ShadowRecord
from tiergate.types import ChatRequest, Usage

if TYPE_CHECKING:
    from tiergate.executor import Attempt, StreamOutcome
    from tiergate.gateway.trace import RequestTrace
    from tiergate.observability.metrics import Metrics
    from tiergate.store.request_log import RequestLog


class Recorder:
    def __init__(self, log: RequestLog | None, metrics: Metrics | None, bodies: bool) -> None:
        self._log = log
        self._metrics = metrics
        self._bodies = bodies

    def __call__(self, trace: RequestTrace) -> None:
        record = fit_for_log(build_record(trace, self._bodies))
        if self._log is not None:
            self._log.submit(record)
        if self._metrics is not None:
            self._metrics.observe(record)


_NO_USAGE = Usage()


def total_usage(attempts: list[Attempt]) -> Usage:
    if len(attempts) == 1:  # the common case: no retry, no escalation
        return attempts[0].usage or _NO_USAGE
    usage = _NO_USAGE
    for attempt in attempts:
        if attempt.usage is not None:
            usage = usage.add(attempt.usage)
    return usage


def build_record(trace: RequestTrace, bodies: bool = False) -> RequestRecord:
    """The log row of a finished request. Runs once per request, so it computes only what the
    request has: no cache savings without cache tokens, no tool-schema checks without tool
    calls, no response text unless bodies are kept."""
    request = trace.request
    principal = trace.principal
    plan = trace.plan
    attempts = trace.attempts
    usage = total_usage(attempts)
    bill = trace.bill
    source = trace.outcome or trace.stream
    record = RequestRecord(
        id=trace.request_id,
        ts_ms=int(time.time() * 1000),
        tenant=principal.tenant if principal else "default",
        key_id=principal.key_id if principal else None,
        client_format=trace.client_format,
        requested_model=request.model if request else "",
        model=source.model.id if source else None,
        deployment=source.deployment.name if source else None,
        route=plan.policy if plan else None,
        reason=trace.reason(),
        attempts=len(attempts),
        tier=source.tier if source else None,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_tokens=usage.cache_creation_input_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cost_usd=bill.usd if bill else None,
        credits=bill.credits if bill else None,
        baseline_cost_usd=bill.baseline_usd if bill else None,
        latency_ms=trace.latency_ms,
        status=trace.status,
        error_class=trace.error.kind if trace.error else None,
        stream=bool(request and request.stream),
        byok=source.deployment.byok if source else False,
        batch_id=trace.batch_id,
        trace_id=trace.trace_id,
        cost_estimated=bill.estimated if bill else False,
    )
    attempt_usd = bill.attempt_usd if bill else None
    for i, attempt in enumerate(attempts):
        used = attempt.usage or _NO_USAGE
        cost = attempt_usd[i] if attempt_usd is not None and i < len(attempt_usd) else None
        record.attempt_rows.append(
            AttemptRecord(
                n=attempt.n,
                tier=attempt.tier,
                model=attempt.model.id,
                deployment=attempt.deployment.name,
                outcome=attempt.outcome,
                status=attempt.status,
                input_tokens=used.input_tokens,
                output_tokens=used.output_tokens,
                cache_creation_tokens=used.cache_creation_input_tokens,
                cache_read_tokens=used.cache_read_input_tokens,
                cost_usd=cost,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                estimated=attempt.estimated,
            )
        )
    if source is not None and attempts:
        answered = bill.answer_usage if bill is not None else answer_usage(attempts)
        if answered is not None:
            # At the rates the row was billed at: a batch row's savings are at batch rates.
            record.cache_savings_usd = cache_savings_usd(answered, source.model, batch=trace.batch)
    calls: list[tuple[str, Any]] = []
    if trace.outcome is not None:
        response = trace.outcome.response
        record.stop_reason = response.stop_reason
        calls = [(b.name, b.input) for b in response.tool_uses()]
    elif trace.stream is not None:
        record.stop_reason = trace.stream.stop_reason
        record.ttft_ms = trace.stream.ttft_ms
        calls = streamed_calls(trace.stream)
    record.refusal = record.stop_reason == "refusal"
    if calls:
        record.tool_calls = len(calls)
        if request is not None:
            record.tool_args_valid = all(
                _valid_arguments(request, name, args) for name, args in calls
            )
    if bodies and request is not None:
        record.prompt = redact(request.text())
        if trace.outcome is not None:
            text = trace.outcome.response.text()
            record.response = redact(text) if text else None
    return record


# The largest integer and pico-unit amount the store's 64-bit columns hold.
_MAX_INT = 2**63 - 1
_MAX_MONEY = Decimal(_MAX_INT) / PICO
_MIN_MONEY = -_MAX_MONEY
_TEXT_LIMIT = 1000  # characters of a name or error message a client or upstream chose


def _text(value: str | None, limit: int = _TEXT_LIMIT) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    return value if len(value) <= limit else value[:limit]


def _count(value: int) -> int:
    return value if 0 <= value <= _MAX_INT else min(max(value, 0), _MAX_INT)


def _money(value: Decimal | None) -> Decimal | None:
    if value is None or _MIN_MONEY <= value <= _MAX_MONEY:
        return value
    return _MAX_MONEY if value > 0 else -_MAX_MONEY


def _fits(record: RequestRecord) -> bool:
    """Whether ``fit_for_log`` would leave ``record`` as it is: plain comparisons, no calls."""
    top, low, high = _MAX_INT, _MIN_MONEY, _MAX_MONEY
    for a in record.attempt_rows:
        if not (
            0 <= a.input_tokens <= top
            and 0 <= a.output_tokens <= top
            and 0 <= a.cache_creation_tokens <= top
            and 0 <= a.cache_read_tokens <= top
            and (a.cost_usd is None or low <= a.cost_usd <= high)
            and (a.error is None or (len(a.error) <= _TEXT_LIMIT and "\x00" not in a.error))
        ):
            return False
    r = record
    return (
        0 <= r.input_tokens <= top
        and 0 <= r.output_tokens <= top
        and 0 <= r.cache_creation_tokens <= top
        and 0 <= r.cache_read_tokens <= top
        and (r.cost_usd is None or low <= r.cost_usd <= high)
        and (r.credits is None or low <= r.credits <= high)
        and (r.baseline_cost_usd is None or low <= r.baseline_cost_usd <= high)
        and (r.cache_savings_usd is None or low <= r.cache_savings_usd <= high)
        and len(r.requested_model) <= 200
        and "\x00" not in r.requested_model
        and (r.reason is None or (len(r.reason) <= _TEXT_LIMIT and "\x00" not in r.reason))
        and (r.stop_reason is None or (len(r.stop_reason) <= 100 and "\x00" not in r.stop_reason))
        and (r.prompt is None or "\x00" not in r.prompt)
        and (r.response is None or "\x00" not in r.response)
    )


def fit_for_log(record: RequestRecord) -> RequestRecord:
    """``record`` made storable, so that every request is logged: what a client or an
    upstream chose (the model asked for, a stop reason, an error message, bodies) without NUL
    (PostgreSQL's text cannot hold one) and of bounded length; token counts and amounts an
    upstream reported within the store's 64-bit columns (a count past them is saturated).
    Almost every row already fits: one pass of comparisons finds that, and the row is then
    returned as it is."""
    if _fits(record):
        return record
    record.requested_model = _text(record.requested_model, 200) or ""
    record.reason = _text(record.reason)
    record.stop_reason = _text(record.stop_reason, 100)
    if record.prompt is not None:
        record.prompt = _text(record.prompt, len(record.prompt))
    if record.response is not None:
        record.response = _text(record.response, len(record.response))
    _fit_usage(record)
    record.credits = _money(record.credits)
    record.baseline_cost_usd = _money(record.baseline_cost_usd)
    record.cache_savings_usd = _money(record.cache_savings_usd)
    for attempt in record.attempt_rows:
        attempt.error = _text(attempt.error)
        _fit_usage(attempt)
    return record


def fit_shadow_for_log(record: ShadowRecord) -> ShadowRecord:
    """``fit_for_log`` for a shadow call's row."""
    if record.response is not None:
        record.response = _text(record.response, len(record.response))
    _fit_usage(record)
    return record


def _fit_usage(row: RequestRecord | AttemptRecord | ShadowRecord) -> None:
    """The token counts and cost that every kind of log row carries, within their columns."""
    row.input_tokens = _count(row.input_tokens)
    row.output_tokens = _count(row.output_tokens)
    row.cache_creation_tokens = _count(row.cache_creation_tokens)
    row.cache_read_tokens = _count(row.cache_read_tokens)
    row.cost_usd = _money(row.cost_usd)


def streamed_calls(stream: StreamOutcome) -> list[tuple[str, Any]]:
    """A stream's tool calls as (name, arguments), the arguments parsed from the JSON text
    streamed (None when that text is not JSON)."""
    return [(name, _parse(arguments)) for name, arguments in stream.tool_calls.values()]


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
