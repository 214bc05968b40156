"""One row per request and one per attempt, as the request log stores them.

Money is kept as exact ``Decimal`` here and stored as integer nano-dollars (1e-9 USD): every
catalog price is a multiple of $0.001 per million tokens, i.e. of one nano-dollar per token,
so costs are exact integers and SQL sums stay exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

NANO = Decimal("1e9")


def to_nano(value: Decimal | None) -> int | None:
    if value is None:
        return None
    return int((value * NANO).to_integral_value(ROUND_HALF_EVEN))


def from_nano(value: int | None) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value) / NANO).normalize() if value else Decimal(0)


@dataclass(slots=True)
class AttemptRecord:
    n: int
    tier: int
    model: str
    deployment: str
    outcome: str  # ok | provider_error | validator_failed
    status: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal | None = None
    latency_ms: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class RequestRecord:
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
    attempt_rows: list[AttemptRecord] = field(default_factory=list)
