"""One row per request and one per attempt, as the request log stores them.

Money is an exact ``Decimal`` in memory and an exact integer in the database, so SQL sums
are exact on SQLite and PostgreSQL alike (no float drift over a million rows):

* request-log money (``cost``, ``baseline``, ``cache_savings``, ``credits``) is stored in
  pico-units, 1e-12 USD (or credit). A price quoted to $0.000001 per million tokens is
  1 pico-dollar per token, so every catalog price, times the cache (1.25x, 2x, 0.1x) and
  batch (0.5x) multipliers, prices a request to an exact integer. A value with more places
  (only credits can have them: they divide by the price of a credit) is rounded half-even to
  1e-12; ``docs/storage.md`` says so.
* budgets and spend counters (tenancy) use nano-dollars, 1e-9 USD: enforcement needs no finer.

Records are mutable (the server fills cost after the call) but slotted: one is built per
request on the hot path, so they stay small and cheap. They are built by keyword only: with
dozens of fields, many of one type (token counts, optional strings), a positional call would
put a value in the wrong column and no check would notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

NANO = Decimal("1e9")
PICO = Decimal("1e12")
_ZERO = Decimal(0)


def to_nano(value: Decimal | None) -> int | None:
    """USD to integer nano-dollars (budgets and spend counters)."""
    if value is None:
        return None
    return int((value * NANO).to_integral_value(ROUND_HALF_EVEN))


def from_nano(value: int | None) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value) / NANO).normalize() if value else _ZERO


def to_pico(value: Decimal | None) -> int | None:
    """USD (or credits) to integer pico-units, the request log's storage unit."""
    if value is None:
        return None
    return int((value * PICO).to_integral_value(ROUND_HALF_EVEN))


def from_pico(value: int | None) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value) / PICO).normalize() if value else _ZERO


@dataclass(slots=True, kw_only=True)
class AttemptRecord:
    """One upstream call of a request: the first tier, a retry, a fail-over or an escalation.

    ``outcome`` is one of ``executor.run.AttemptOutcome``: ``ok``, ``provider_error``,
    ``validator_failed``, ``judge`` or ``cut``. ``request_id`` may be left empty: the request
    log fills it from the request the attempt is submitted with.
    """

    n: int
    tier: int
    model: str
    deployment: str
    outcome: str
    status: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal | None = None
    latency_ms: float = 0.0
    error: str | None = None
    request_id: str = ""
    estimated: bool = False  # its usage was partly estimated (tiergate/cost/estimate.py)


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    """One client request as answered (or refused). ``ts_ms`` is UTC epoch milliseconds.

    ``cost_usd`` None means unpriced (never shown as $0); ``tool_args_valid`` None means no
    tool calls were made; ``prompt``/``response`` are set only when body logging is on, and
    then already redacted. ``batch_id`` names the batch job of a row that answered one of its
    requests (live, or through a provider's batch API). ``trace_id`` links rows that
    belong together (``docs/recipes.md``).
    """

    id: str
    ts_ms: int
    tenant: str = "default"
    key_id: str | None = None
    client_format: str = "openai"
    requested_model: str = ""
    model: str | None = None
    deployment: str | None = None
    route: str | None = None
    reason: str | None = None
    attempts: int = 0
    tier: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal | None = None
    credits: Decimal | None = None
    baseline_cost_usd: Decimal | None = None
    cache_savings_usd: Decimal | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    status: int = 200
    stop_reason: str | None = None
    refusal: bool = False
    tool_calls: int = 0
    tool_args_valid: bool | None = None
    error_class: str | None = None
    stream: bool = False
    byok: bool = False
    prompt: str | None = None
    response: str | None = None
    batch_id: str | None = None
    # The rows that belong together: a multi-call route's calls, an agent conversation's turns.
    trace_id: str | None = None
    # Some usage was estimated because the upstream did not report it: so is ``cost_usd``.
    cost_estimated: bool = False
    attempt_rows: list[AttemptRecord] = field(default_factory=list)

    @property
    def ts(self) -> datetime:
        """The request's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.ts_ms / 1000, UTC)


@dataclass(slots=True, kw_only=True)
class ShadowRecord:
    """A candidate model's answer to a request already served by another (shadow traffic).

    ``shadow_of`` is the served request's id (its ``requests`` row); ``agrees`` tells whether
    the two answers were the same (text and tool calls, normalised; None when the shadow
    call failed); ``response`` only when body logging is on.
    """

    id: str
    shadow_of: str
    ts_ms: int
    model: str
    tenant: str = "default"
    key_id: str | None = None
    route: str | None = None
    served_model: str | None = None
    deployment: str | None = None
    status: int = 200
    error_class: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal | None = None
    latency_ms: float = 0.0
    agrees: bool | None = None
    response: str | None = None
