"""``tiergate report``: spend, savings, mix and latency from the request log."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import click

_BY = {"model": "by_model", "day": "by_day", "tenant": "by_tenant", "route": "by_route",
       "route-model": "by_route_model", "tier": "tiers"}  # fmt: skip


async def _summary(url: str, query: dict[str, str]) -> dict[str, Any]:
    from tiergate.store.backend import open_store
    from tiergate.store.reports import ReportFilter, summary

    store = await open_store(url)
    try:
        return await summary(store, ReportFilter.from_query(query))
    finally:
        await store.aclose()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object (for scripts).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV of the --by breakdown.")
@click.option("--since", default=None, help="ISO date/time or a span like 7d, 24h.")
@click.option("--until", default=None, help="ISO date/time (a date includes that whole day).")
@click.option("--tenant", default=None)
@click.option("--route", default=None)
@click.option("--by", "by", type=click.Choice(sorted(_BY)), default="model", show_default=True)
@click.option(
    "--database-url",
    envvar="TIERGATE_DATABASE_URL",
    default=None,
    help="PostgreSQL URL (default: SQLite in TIERGATE_DATA_DIR).",
)
def report(
    as_json: bool, as_csv: bool, since: str | None, until: str | None, tenant: str | None,
    route: str | None, by: str, database_url: str | None,
) -> None:  # fmt: skip
    """Spend and savings by model, day, tenant and route; escalation; latency percentiles."""
    from tiergate.store.location import store_url

    query = {
        k: v
        for k, v in {"since": since, "until": until, "tenant": tenant, "route": route}.items()
        if v
    }
    try:
        data = asyncio.run(_summary(store_url(database_url, None), query))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if as_json:
        import orjson

        totals = data["totals"]
        payload = {"requests": totals["requests"], "cost_usd": totals["cost_usd"], **data}
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return
    rows = data[_BY[by]]
    if as_csv:
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    _print_tables(data, by)


def _print_tables(data: dict[str, Any], by: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = data["totals"]
    console.print(
        f"[bold]{t['requests']:,} requests[/bold]  spend ${t['cost_usd']:.4f}  "
        f"always-baseline ${t['baseline_usd']:.4f}  saved ${t['savings_usd']:.4f}  "
        f"cache saved ${t['cache_savings_usd']:.4f}  escalated {t['escalation_rate']:.1%}  "
        f"errors {t['error_rate']:.1%}"
    )
    rows = data[_BY[by]]
    if not rows:
        console.print("no requests match")
        return
    key = next(iter(rows[0]))
    columns = [key, "requests", "cost_usd", "savings_usd", "escalation_rate", "error_rate"]
    if by == "model":
        columns += ["p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms"]
    if by == "tier":
        columns = ["route", "tier", "model", "attempts", "escalation_rate", "cost_usd"]
    table = Table(title=f"by {by}")
    for column in columns:
        table.add_column(column, justify="left" if column in (key, "route", "model") else "right")
    for row in rows:
        table.add_row(*(_cell(column, row.get(column)) for column in columns))
    console.print(table)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column.endswith("_usd"):
        return f"${value:,.4f}"
    if column.endswith("_rate"):
        return f"{value:.1%}"
    if column.endswith("_ms"):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
