"""Cost engine against hand-computed figures (rates are USD per million tokens; 1 micro-dollar
is $0.000001, so "N µ$" in a comment is N x 10^-6 USD)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tiergate.catalog import load_catalog
from tiergate.config.models import ModelEntry
from tiergate.cost import (
    UNPRICED,
    Cost,
    CreditPlan,
    Workload,
    cache_hit_rate,
    cache_savings_usd,
    cost_of,
    counterfactual_usd,
    credits_of,
    project_workload,
    usd_of,
)
from tiergate.errors import ConfigError
from tiergate.types import Usage

D = Decimal
# A user-added model with a long-context premium and its own batch tables, like the
# >200K-token pricing Anthropic applied to Sonnet 4 (base $3 / $15).
LONG = {
    "id": "long-model",
    "provider": "anthropic",
    "context_window": 1_000_000,
    "max_output": 64000,
    "pricing": {
        "input": "3",
        "output": "15",
        "cache_write_5m": "3.75",
        "cache_write_1h": "6",
        "cache_read": "0.30",
        "batch": {"input": "1.50", "output": "7.50"},
        "long_context": {
            "threshold_tokens": 200_000,
            "input": "6",
            "output": "22.50",
            "cache_write_5m": "7.50",
            "cache_write_1h": "12",
            "cache_read": "0.60",
            "batch": {"input": "3", "output": "11.25"},
        },
    },
}
CATALOG = load_catalog([ModelEntry.model_validate(LONG)])


def split(five: int, hour: int) -> dict[str, int]:
    return {
        "cache_creation_input_tokens": five + hour,
        "cache_creation_5m": five,
        "cache_creation_1h": hour,
    }


CASES = [
    # (model, usage, batch, expected USD)
    ("claude-haiku-4-5", Usage(input_tokens=1_000_000), False, "1"),
    ("claude-haiku-4-5", Usage(output_tokens=1_000_000), False, "5"),
    ("claude-haiku-4-5", Usage(input_tokens=800, output_tokens=50), False, "0.00105"),
    # writes without a TTL split count as 5-minute writes: 1000 x 1.25 µ$
    ("claude-haiku-4-5", Usage(cache_creation_input_tokens=1000), False, "0.00125"),
    ("claude-haiku-4-5", Usage(**split(1000, 2000)), False, "0.00525"),  # 1250 + 2000 x 2
    ("claude-haiku-4-5", Usage(**split(0, 2000)), False, "0.004"),
    ("claude-haiku-4-5", Usage(cache_read_input_tokens=10_000), False, "0.001"),  # x 0.10
    ("claude-haiku-4-5", Usage(input_tokens=1000, output_tokens=1000), True, "0.003"),  # 500+2500
    # batch cache rates are halved too: 2000 x 0.625 + 1000 x 1 + 10000 x 0.05
    (
        "claude-haiku-4-5",
        Usage(cache_read_input_tokens=10_000, **split(2000, 1000)),
        True,
        "0.00275",
    ),
    # every field at once on Sonnet 4.6: 100x3 + 200x15 + 300x3.75 + 400x6 + 500x0.30
    (
        "claude-sonnet-4-6",
        Usage(input_tokens=100, output_tokens=200, cache_read_input_tokens=500, **split(300, 400)),
        False,
        "0.006975",
    ),
    # Sonnet 4.6 has no long-context premium any more: 300K input at $3
    ("claude-sonnet-4-6", Usage(input_tokens=300_000), False, "0.9"),
    ("claude-opus-4-7", Usage(input_tokens=800, output_tokens=50), False, "0.00525"),
    ("claude-opus-4-6", Usage(input_tokens=800, output_tokens=50), True, "0.002625"),
    # gpt-5.4 at OpenAI's published $2.50 / $15: 12 x 2.5 + 3 x 15 = 75 µ$
    ("gpt-5.4", Usage(input_tokens=12, output_tokens=3), False, "0.000075"),
    (
        "gpt-5.4",
        Usage(cache_read_input_tokens=1000, cache_creation_input_tokens=1000),
        False,
        "0.00275",
    ),  # OpenAI: writes at the input rate (2500 µ$), reads 0.1x (250 µ$)
    ("gemini-3.1-flash-lite", Usage(input_tokens=1000, output_tokens=1000), False, "0.00175"),
    ("gemini-3.1-flash-lite", Usage(cache_read_input_tokens=4000), True, "0.00005"),
    ("minimax-m2.7", Usage(input_tokens=1000, output_tokens=1000), False, "0.0015"),
    ("minimax-m2.7", Usage(input_tokens=1000, output_tokens=1000), True, "0.0015"),  # no batch
    ("local/smollm2-135m", Usage(input_tokens=10_000, output_tokens=10_000), False, "0"),
    # long context: the threshold is "more than", over total input, for the whole request
    ("long-model", Usage(input_tokens=200_000), False, "0.6"),
    ("long-model", Usage(input_tokens=200_001), False, "1.200006"),
    (
        "long-model",
        Usage(input_tokens=150_000, cache_read_input_tokens=100_000, output_tokens=1000),
        False,
        "0.9825",
    ),  # 900000 + 60000 + 22500 µ$
    ("long-model", Usage(input_tokens=199_000, **split(2000, 0)), False, "1.209"),  # 1194000+15000
    ("long-model", Usage(input_tokens=250_000, output_tokens=1000), True, "0.76125"),
    ("long-model", Usage(input_tokens=1000, output_tokens=1000), True, "0.009"),
]


@pytest.mark.parametrize(("model", "usage", "batch", "expected"), CASES)
def test_cost_table(model: str, usage: Usage, batch: bool, expected: str) -> None:
    cost = cost_of(usage, CATALOG.resolve(model), batch=batch)
    assert cost.priced
    assert cost.usd == D(expected)
    assert sum(cost.breakdown().values(), D(0)) == cost.usd


@pytest.mark.parametrize(("model", "usage", "batch", "expected"), CASES)
def test_usd_of_is_cost_of_without_the_breakdown(
    model: str, usage: Usage, batch: bool, expected: str
) -> None:
    """Billing uses ``usd_of``; it must be the very same Decimal (digits and exponent)."""
    info = CATALOG.resolve(model)
    assert usd_of(usage, info, batch=batch) == cost_of(usage, info, batch=batch).usd
    assert str(usd_of(usage, info, batch=batch)) == str(cost_of(usage, info, batch=batch).usd)
    assert usd_of(usage, CATALOG.resolve("deepseek-v4-flash")) is None


def test_breakdown_per_component() -> None:
    usage = Usage(
        input_tokens=100, output_tokens=200, cache_read_input_tokens=500, **split(300, 400)
    )
    cost = cost_of(usage, CATALOG.resolve("sonnet"))
    assert cost.breakdown() == {
        "input": D("0.0003"),
        "output": D("0.003"),
        "cache_write_5m": D("0.001125"),
        "cache_write_1h": D("0.0024"),
        "cache_read": D("0.00015"),
        "server_tools": D(0),
    }
    assert format(cost.usd, "f") == "0.006975"  # type: ignore[arg-type]


def test_unpriced_model_is_none_not_zero() -> None:
    cost = cost_of(Usage(input_tokens=100), CATALOG.resolve("deepseek-v4-flash"))
    assert cost is UNPRICED and cost.usd is None and not cost.priced
    haiku = cost_of(Usage(input_tokens=100), CATALOG.resolve("haiku"))
    assert (haiku + cost).usd is None  # a partial sum would understate the bill
    assert (haiku + haiku).usd == D("0.0002")


def test_long_cached_system_prompt_over_1000_requests_is_exact() -> None:
    haiku = CATALOG.resolve("claude-haiku-4-5")
    first = Usage(input_tokens=50, output_tokens=20, cache_creation_input_tokens=5000)
    rest = Usage(input_tokens=50, output_tokens=20, cache_read_input_tokens=5000)
    total = cost_of(first, haiku)
    usage = first
    for _ in range(999):
        total = total + cost_of(rest, haiku)
        usage = usage.add(rest)
    # first: 50 + 100 + 6250 = 6400 µ$; the other 999: 50 + 100 + 500 = 650 µ$ each
    assert total.usd == D("0.65575")
    assert total.cache_read == D("0.4995") and total.cache_write_5m == D("0.00625")
    assert cost_of(usage, haiku).usd == D("0.65575")  # the summed usage prices the same
    # savings: 999 hits x 5000 x (1 - 0.10) µ$ minus the write premium 5000 x 0.25 µ$
    assert cache_savings_usd(usage, haiku) == D("4.49425")
    assert cache_savings_usd(first, haiku) == D("-0.00125")
    assert cache_hit_rate(usage) == D(4_995_000) / D(5_050_000)
    assert cache_hit_rate(Usage()) is None


def test_a_million_requests_do_not_drift() -> None:
    haiku = CATALOG.resolve("haiku")
    one = cost_of(Usage(input_tokens=800, output_tokens=50), haiku).usd
    assert one is not None
    assert sum((one for _ in range(1_000_000)), D(0)) == D("1050")


@pytest.mark.parametrize("split_reported", [{}, {"ephemeral_5m_input_tokens": 0}])
def test_cache_writes_an_empty_split_leaves_out_are_5_minute_writes(
    split_reported: dict[str, int],
) -> None:
    """An Anthropic-compatible server that sends ``cache_creation: {}`` (or zeros) beside 5000
    written tokens: those are priced as 5-minute writes (1.25x), never as free."""
    from tiergate.wire.anthropic_upstream import decode_usage

    usage = decode_usage(
        {"input_tokens": 0, "cache_creation_input_tokens": 5000, "cache_creation": split_reported}
    )
    assert usage.cache_writes_by_ttl() == (5000, 0)
    haiku = CATALOG.resolve("claude-haiku-4-5")
    assert cost_of(usage, haiku).usd == D("0.00625")  # 5000 x $1.25 per million


def test_streamed_usage_in_pieces_sums_to_the_whole() -> None:
    haiku = CATALOG.resolve("claude-haiku-4-5")
    # Anthropic: message_start carries input and cache counts, message_delta the output
    start = Usage(input_tokens=100, cache_read_input_tokens=2000, **split(300, 0))
    final = start.overlay(Usage(output_tokens=300))
    assert cost_of(final, haiku).usd == D("0.002175")  # 100 + 200 + 375 + 1500 µ$
    # an upstream that reports usage in several chunks: the pieces add up
    parts = [
        Usage(input_tokens=40),
        Usage(input_tokens=60, output_tokens=100),
        Usage(output_tokens=200, **split(0, 1000)),
    ]
    total = Usage()
    for part in parts:
        total = total.add(part)
    assert (total.input_tokens, total.output_tokens) == (100, 300)
    assert total.cache_writes_by_ttl() == (0, 1000)
    assert cost_of(total, haiku).usd == D("0.0036")  # 100 + 1500 + 2000 µ$
    piecewise = sum((cost_of(p, haiku).usd or D(0) for p in parts), D(0))
    assert piecewise == cost_of(total, haiku).usd


def test_batch_job_costs_half() -> None:
    haiku = CATALOG.resolve("haiku")
    job = [Usage(input_tokens=2000, output_tokens=300) for _ in range(1000)]
    batch = sum((cost_of(u, haiku, batch=True) for u in job), Cost(D(0)))
    normal = sum((cost_of(u, haiku) for u in job), Cost(D(0)))
    assert batch.usd == D("1.75")  # 1000 x (2000 x 0.5 + 300 x 2.5) µ$
    assert normal.usd == D("3.5")


PLAN = {
    "baseline": "claude-sonnet-4-6",
    "usd_per_credit": "0.01",
    "multipliers": {
        "sonnet": "1",
        "claude-haiku-4-5": "0.3",
        "minimax-m2.7": "0.1",
        "deepseek-v4-flash": "0.02",
    },
}


@pytest.mark.parametrize(
    ("model", "byok", "batch", "expected"),
    [
        ("claude-sonnet-4-6", False, False, "1.8"),  # $0.018 at Sonnet rates / $0.01
        ("claude-haiku-4-5", False, False, "0.54"),
        ("minimax-m2.7", False, False, "0.18"),
        ("deepseek-v4-flash", False, False, "0.036"),  # priced through the baseline
        ("claude-haiku-4-5", True, False, "0"),  # bring-your-own-key: no credits
        ("claude-sonnet-4-6", False, True, "0.9"),  # batch: baseline at batch rates
        ("gpt-5.4", False, False, None),  # not in the plan: no credit price
    ],
)
def test_credits(model: str, byok: bool, batch: bool, expected: str | None) -> None:
    plan = CreditPlan.from_config(PLAN, CATALOG.resolve)
    usage = Usage(input_tokens=1000, output_tokens=1000)
    got = credits_of(usage, CATALOG.resolve(model), plan, byok=byok, batch=batch)
    assert got == (None if expected is None else D(expected))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"usd_per_credit": "0"}, "usd_per_credit"),
        ({"multipliers": {"nope": "1"}}, "unknown model 'nope'"),
        ({"baseline": "deepseek-v4-flash"}, "is unpriced"),
        ({"colour": "red"}, "colour"),
        ({"multipliers": {"haiku": "-1"}}, "must be >= 0"),
    ],
)
def test_bad_credit_plans(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CreditPlan.from_config({**PLAN, **change}, CATALOG.resolve)
    assert message in str(info.value) and str(info.value).startswith("credits.")


def test_counterfactual_on_baseline() -> None:
    sonnet = CATALOG.resolve("claude-sonnet-4-6")
    assert counterfactual_usd(Usage(input_tokens=800, output_tokens=50), sonnet) == D("0.00315")
    cached = Usage(input_tokens=100, output_tokens=100, cache_read_input_tokens=10_000)
    assert counterfactual_usd(cached, sonnet) == D("0.0048")  # 300 + 1500 + 3000 µ$
    assert counterfactual_usd(cached, sonnet, batch=True) == D("0.0024")
    assert counterfactual_usd(cached, CATALOG.resolve("deepseek-v4-flash")) is None


@pytest.mark.parametrize(
    ("model", "daily"),
    [("claude-haiku-4-5", "0.525"), ("claude-sonnet-4-6", "1.575"), ("claude-opus-4-7", "2.625")],
)
def test_projection_reproduces_the_issue_example(model: str, daily: str) -> None:
    row = project_workload(
        Workload(requests_per_day=500, input_tokens=800, output_tokens=50), CATALOG.resolve(model)
    )
    assert row.daily_usd == D(daily)
    assert row.monthly_usd == D(daily) * 30


def test_projection_with_cache_ttl_and_batch() -> None:
    sonnet = CATALOG.resolve("claude-sonnet-4-6")
    cached = Workload(
        requests_per_day=1000,
        input_tokens=5000,
        output_tokens=100,
        cached_prefix_tokens=3000,
        cache_hit_rate=D("0.9"),
    )
    row = project_workload(cached, sonnet)
    # hit: 2000x3 + 3000x0.30 + 100x15 = 8400 µ$; miss: 2000x3 + 3000x3.75 + 1500 = 18750 µ$
    assert row.per_request_usd == D("0.009435") and row.cache_applied
    assert row.daily_usd == D("9.435") and row.monthly_usd == D("283.05")
    hour = project_workload(replace(cached, cache_ttl="1h"), sonnet)
    assert hour.per_request_usd == D("0.01011")  # miss writes at $6: 25500 µ$
    batch = project_workload(
        Workload(requests_per_day=1000, input_tokens=800, output_tokens=50, batch=True), sonnet
    )
    assert batch.daily_usd == D("1.575")  # half of 3.15
    haiku = project_workload(
        Workload(
            requests_per_day=10,
            input_tokens=800,
            output_tokens=50,
            cached_prefix_tokens=600,
            cache_hit_rate=D(1),
        ),
        CATALOG.resolve("haiku"),
    )
    assert not haiku.cache_applied  # 600 < Haiku's 4,096-token minimum: no pretending
    assert haiku.per_request_usd == D("0.00105")
    none = project_workload(
        Workload(requests_per_day=10, input_tokens=800, output_tokens=50),
        CATALOG.resolve("deepseek-v4-flash"),
    )
    assert none.daily_usd is None and not none.priced
