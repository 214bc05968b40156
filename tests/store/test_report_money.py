"""Report money says what it leaves out: unpriced and estimated spend, and "no baseline"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from click.testing import CliRunner

from tiergate.cli.main import main as cli
from tiergate.store.records import RequestRecord
from tiergate.store.reports import ReportFilter, breakdowns, totals
from tiergate.store.request_log import RequestLog

D = Decimal
T0 = 1_763_942_400_000


def row(n: int, **fields: Any) -> RequestRecord:
    base: dict[str, Any] = {"ts_ms": T0 + n, "model": "m", "input_tokens": 10, "attempts": 1}
    return RequestRecord(id=f"r{n}", **{**base, **fields})


async def write(store: Any, rows: list[RequestRecord]) -> None:
    log = RequestLog(store)
    await log.start()
    for record in rows:
        log.submit(record)
    await log.aclose()


async def test_without_a_baseline_savings_are_none_not_minus_the_spend(store: Any) -> None:
    """Regression: with ``baseline_model: null`` every row has no baseline, and the report
    showed "saved $-0.0023" (0 - spend)."""
    await write(store, [row(1, cost_usd=D("0.0023")), row(2, cost_usd=D("0.001"))])
    t = await totals(store, ReportFilter())
    assert t["savings_usd"] is None and t["baseline_usd"] is None
    assert t["exact"]["savings_usd"] is None and t["baselined_requests"] == 0


async def test_savings_compare_only_the_rows_with_a_baseline(store: Any) -> None:
    await write(
        store,
        [
            row(1, cost_usd=D("0.002"), baseline_cost_usd=D("0.005")),
            row(2, cost_usd=D("0.004")),  # no baseline (e.g. logged before one was configured)
        ],
    )
    t = await totals(store, ReportFilter())
    assert t["exact"]["savings_usd"] == "0.003" and t["baselined_requests"] == 1
    assert t["exact"]["cost_usd"] == "0.006"


async def test_unpriced_and_estimated_spend_are_counted_apart(store: Any) -> None:
    await write(
        store,
        [
            row(1, cost_usd=D("0.01")),
            row(2, cost_usd=None),  # unpriced: not $0, not in the spend
            row(3, cost_usd=D("0.002"), cost_estimated=True),
            row(4, cost_usd=D("0.003"), cost_estimated=True),
        ],
    )
    parts = await breakdowns(store, ReportFilter())
    t = parts["totals"]
    assert (t["requests"], t["unpriced_requests"], t["estimated_requests"]) == (4, 1, 2)
    assert t["exact"]["cost_usd"] == "0.015" and t["exact"]["estimated_cost_usd"] == "0.005"
    assert t["cost_per_request_usd"] == 0.005  # over the 3 priced requests, not 4
    assert parts["by_model"][0]["unpriced_requests"] == 1
    assert t["priced_requests"] == 3


def test_text_report_says_what_the_spend_leaves_out(tmp_path: Any) -> None:
    import asyncio

    from tiergate.store.backend import open_store

    url = f"sqlite:///{tmp_path / 'tiergate.db'}"

    async def seed() -> None:
        store = await open_store(url)
        try:
            await write(
                store,
                [
                    row(1, cost_usd=D("0.01")),
                    row(2, cost_usd=None),
                    row(3, cost_usd=D("0.002"), cost_estimated=True),
                ],
            )
        finally:
            await store.aclose()

    asyncio.run(seed())
    result = CliRunner().invoke(cli, ["report", "--database-url", url], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "saved: no baseline" in result.output
    assert "$-" not in result.output
    assert "1 unpriced requests are not in the spend" in result.output
    assert "$0.0020 of the spend, over 1 requests, is estimated" in result.output
    assert "$0.012000 + 1 unpriced (est. $0.002000 over 1)" in result.output


def test_a_model_with_no_price_shows_unpriced_not_zero(tmp_path: Any) -> None:
    """Regression: an unpriced model's row read "$0.000000" in the text report."""
    import asyncio

    from tiergate.store.backend import open_store

    url = f"sqlite:///{tmp_path / 'tiergate.db'}"

    async def seed() -> None:
        store = await open_store(url)
        try:
            await write(
                store,
                [
                    row(1, model="deepseek-v4-flash", cost_usd=None),
                    row(2, model="deepseek-v4-flash", cost_usd=None),
                ],
            )
        finally:
            await store.aclose()

    asyncio.run(seed())
    result = CliRunner().invoke(cli, ["report", "--database-url", url], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "spend unpriced (2)" in result.output
    assert "$0.000000" not in result.output
