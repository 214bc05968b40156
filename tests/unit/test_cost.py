"""Cost engine against hand-computed figures (USD per million tokens from the catalog)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from tiergate.catalog import load_catalog
from tiergate.cli.cost import cost as cost_cli
from tiergate.cost import CreditPlan, cache_savings_usd, cost_of, counterfactual_usd, credits_of
from tiergate.cost.projection import Workload, project_workload
from tiergate.types import Usage

CATALOG = load_catalog()
D = Decimal

CASES = [
    # (model, usage, batch, expected USD) — hand-computed
    ("claude-haiku-4-5", Usage(input_tokens=1_000_000), False, D("1")),
    ("claude-haiku-4-5", Usage(output_tokens=1_000_000), False, D("5")),
    ("claude-haiku-4-5", Usage(input_tokens=800, output_tokens=50), False, D("0.00105")),
    # 5-minute writes 1.25x, 1-hour writes 2x, reads 0.1x of $1
    ("claude-haiku-4-5", Usage(cache_creation_input_tokens=1000), False, D("0.00125")),
    ("claude-haiku-4-5", Usage(cache_creation_input_tokens=3000, cache_creation_5m=1000,
                               cache_creation_1h=2000), False, D("0.00525")),
    ("claude-haiku-4-5", Usage(cache_read_input_tokens=10_000), False, D("0.001")),
    # batch halves every rate: 1000 in x $0.5 + 1000 out x $2.5
    ("claude-haiku-4-5", Usage(input_tokens=1000, output_tokens=1000), True, D("0.003")),
    ("claude-sonnet-4-6", Usage(input_tokens=1000, output_tokens=1000), False, D("0.018")),
    # Sonnet long context: 250k input total > 200k -> $6 in / $22.50 out for the whole request
    ("claude-sonnet-4-6", Usage(input_tokens=250_000, output_tokens=1000), False, D("1.5225")),
    ("claude-sonnet-4-6", Usage(input_tokens=150_000, cache_read_input_tokens=100_000),
     False, D("0.96")),  # 150k x $6 + 100k x $0.60 (long context: total input 250k)
    ("claude-opus-4-7", Usage(input_tokens=800, output_tokens=50), False, D("0.00525")),
    ("gpt-5.4", Usage(input_tokens=12, output_tokens=3), False, D("0.000048")),
    ("local/smollm2-135m", Usage(input_tokens=10_000, output_tokens=10_000), False, D("0")),
]  # fmt: skip


@pytest.mark.parametrize(("model", "usage", "batch", "expected"), CASES)
def test_cost_table(model: str, usage: Usage, batch: bool, expected: Decimal) -> None:
    assert cost_of(usage, CATALOG.resolve(model), batch=batch).usd == expected


def test_unpriced_model_is_none_not_zero() -> None:
    cost = cost_of(Usage(input_tokens=100), CATALOG.resolve("deepseek-v4-flash"))
    assert cost.usd is None and not cost.priced


def test_long_cached_system_prompt_over_1000_requests_is_exact() -> None:
    haiku = CATALOG.resolve("claude-haiku-4-5")
    first = Usage(input_tokens=50, output_tokens=20, cache_creation_input_tokens=5000)
    rest = Usage(input_tokens=50, output_tokens=20, cache_read_input_tokens=5000)
    total = cost_of(first, haiku).usd + sum(  # type: ignore[operator]
        (cost_of(rest, haiku).usd for _ in range(999)), Decimal(0)
    )
    # first: 50*1 + 20*5 + 5000*1.25 = 6400 micro$; others: 50 + 100 + 500 = 650 micro$
    assert total == Decimal("0.0064") + 999 * Decimal("0.00065")
    assert total == Decimal("0.65575")
    saved = cache_savings_usd(rest, haiku)
    assert saved == Decimal("0.0045")  # 5000 reads x ($1 - $0.10) per million


def test_streamed_usage_in_pieces_sums_to_the_whole() -> None:
    start = Usage(input_tokens=100, cache_read_input_tokens=2000)
    final = start.overlay(Usage(output_tokens=300))
    haiku = CATALOG.resolve("claude-haiku-4-5")
    assert cost_of(final, haiku).usd == Decimal("0.0018")  # 100 + 1500 + 200 micro$
    parts = [
        Usage(input_tokens=40),
        Usage(input_tokens=60, output_tokens=100),
        Usage(output_tokens=200),
    ]
    total = Usage()
    for part in parts:
        total = total.add(part)
    assert (total.input_tokens, total.output_tokens) == (100, 300)


def test_credits_and_byok() -> None:
    plan = CreditPlan.from_config(
        {"baseline": "claude-sonnet-4-6", "usd_per_credit": "0.01",
         "multipliers": {"claude-sonnet-4-6": "1", "claude-haiku-4-5": "0.3"}},
        CATALOG.resolve,
    )  # fmt: skip
    usage = Usage(input_tokens=1000, output_tokens=1000)  # $0.018 at Sonnet rates
    haiku = CATALOG.resolve("claude-haiku-4-5")
    assert credits_of(usage, CATALOG.resolve("sonnet"), plan, byok=False) == Decimal("1.8")
    assert credits_of(usage, haiku, plan, byok=False) == Decimal("0.54")
    assert credits_of(usage, haiku, plan, byok=True) == 0
    assert credits_of(usage, CATALOG.resolve("gpt-5.4"), plan, byok=False) is None


def test_counterfactual_on_baseline() -> None:
    usage = Usage(input_tokens=800, output_tokens=50)
    assert counterfactual_usd(usage, CATALOG.resolve("claude-sonnet-4-6")) == Decimal("0.00315")


@pytest.mark.parametrize(
    ("model", "daily"),
    [("claude-haiku-4-5", "0.525"), ("claude-sonnet-4-6", "1.575"), ("claude-opus-4-7", "2.625")],
)
def test_projection_reproduces_the_issue_example(model: str, daily: str) -> None:
    row = project_workload(Workload(500, 800, 50), CATALOG.resolve(model))
    assert row.daily_usd == Decimal(daily)
    assert row.monthly_usd == Decimal(daily) * 30


def test_projection_with_cache_and_batch() -> None:
    sonnet = CATALOG.resolve("claude-sonnet-4-6")
    row = project_workload(Workload(1000, 5000, 100, 3000, Decimal("0.9")), sonnet)
    # hit: 2000*3 + 3000*0.30 + 100*15 = 8400 micro$; miss: 2000*3 + 3000*3.75 + 1500 = 18750
    assert row.per_request_usd == Decimal("0.9") * Decimal("0.0084") + Decimal("0.1") * Decimal(
        "0.01875"
    )
    batch = project_workload(Workload(1000, 800, 50, batch=True), sonnet)
    assert batch.daily_usd == Decimal("1.575")  # half of 3.15
    haiku = project_workload(Workload(10, 800, 50, 600, Decimal(1)), CATALOG.resolve("haiku"))
    assert not haiku.cache_applied  # 600 < Haiku's 4,096-token minimum: no pretending


def test_cost_project_cli_json_and_table() -> None:
    runner = CliRunner()
    args = ["project", "--model", "claude-haiku-4-5", "--model", "claude-sonnet-4-6",
            "--model", "claude-opus-4-7", "--requests-per-day", "500", "--input-tokens", "800",
            "--output-tokens", "50"]  # fmt: skip
    result = runner.invoke(cost_cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["model"], r["daily_usd"]) for r in rows] == [
        ("claude-haiku-4-5", 0.525),
        ("claude-sonnet-4-6", 1.575),
        ("claude-opus-4-7", 2.625),
    ]
    assert rows[0]["monthly_usd"] == pytest.approx(15.75)
    table = runner.invoke(cost_cli, args)
    assert table.exit_code == 0
    assert "$0.525" in table.output and "$1.575" in table.output and "$2.625" in table.output
    bad = runner.invoke(cost_cli, ["project", "--model", "nope", "--requests-per-day", "1",
                                   "--input-tokens", "1", "--output-tokens", "1"])  # fmt: skip
    assert bad.exit_code != 0 and "unknown model 'nope'" in bad.output
