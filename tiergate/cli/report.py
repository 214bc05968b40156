"""``tiergate report``: spend, savings, mix and latency from the request log.

A thin command over ``tiergate.store.reports``: the store comes from ``--database-url`` /
``TIERGATE_DATABASE_URL`` (PostgreSQL) or else SQLite in ``TIERGATE_DATA_DIR``. ``--json``
prints one object with at least ``requests`` and ``cost_usd`` (the CLI contract), ``--csv``
the ``--by`` breakdown, and otherwise rich tables for people. ``--ab A,B`` compares two models
on the ``--route`` given. ``--trace ID`` prints one trace instead: the calls of a fan-out or
draft-then-review request, or the turns of an agent conversation, with its total against all
on the strong model (``tiergate.store.traces``).
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import click

from tiergate.cli.help import examples
from tiergate.cli.store import store_options, store_url

_BY = {
    "model": "by_model",
    "day": "by_day",
    "tenant": "by_tenant",
    "route": "by_route",
    "route-model": "by_route_model",
    "tier": "tiers",
}


async def _query(url: str, query: dict[str, str], ab: tuple[str, str] | None) -> dict[str, Any]:
    from tiergate.store.ab import compare_models
    from tiergate.store.backend import open_store
    from tiergate.store.reports import ReportFilter, summary

    filters = ReportFilter.from_query(query)
    store = await open_store(url)
    try:
        data = await summary(store, filters)
        if ab is not None:
            data["ab"] = await compare_models(store, filters, *ab)
        return data
    finally:
        await store.aclose()


async def _trace(url: str, trace_id: str, tenant: str | None) -> dict[str, Any] | None:
    from tiergate.store.backend import open_store
    from tiergate.store.traces import trace_summary

    store = await open_store(url)
    try:
        return await trace_summary(store, trace_id, tenant)
    finally:
        await store.aclose()


@click.command(
    epilog=examples(
        "tiergate report --since 7d",
        "tiergate report --since 24h --by route --tenant acme",
        "tiergate report --since 2026-01-01 --until 2026-01-31 --csv --by day > jan.csv",
        "tiergate report --route support --ab claude-haiku-4-5,gpt-5.4",
        "tiergate report --trace conv_01...",
    )
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object (for scripts).")
@click.option(
    "--trace",
    "trace_id",
    default=None,
    metavar="ID",
    help="One trace: a multi-call request's calls or an agent conversation's turns.",
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV of the --by breakdown.")
@click.option("--since", default=None, help="ISO date/time or a span like 7d, 24h.")
@click.option("--until", default=None, help="ISO date/time (a date includes that whole day).")
@click.option("--tenant", default=None, help="Only this tenant's requests.")
@click.option("--route", default=None, help="Only requests to this route (model: ROUTE).")
@click.option(
    "--by",
    "by",
    type=click.Choice(sorted(_BY)),
    default="model",
    show_default=True,
    help="The breakdown the table (and --csv) shows.",
)
@click.option(
    "--ab",
    default=None,
    metavar="MODEL_A,MODEL_B",
    help="Compare two models side by side (on --route, if given).",
)
@store_options
def report(
    as_json: bool,
    as_csv: bool,
    since: str | None,
    until: str | None,
    tenant: str | None,
    route: str | None,
    by: str,
    ab: str | None,
    database_url: str | None,
    config_path: str | None,
    trace_id: str | None = None,
) -> None:
    """Spend and savings by model, day, tenant and route; escalation; latency percentiles."""
    if trace_id is not None:
        _report_trace(store_url(database_url, config_path), trace_id, tenant, as_json)
        return
    query = {
        k: v
        for k, v in {"since": since, "until": until, "tenant": tenant, "route": route}.items()
        if v
    }
    pair: tuple[str, str] | None = None
    if ab is not None:
        names = [name.strip() for name in ab.split(",")]
        if len(names) != 2 or not all(names):
            raise click.BadParameter("give two models: --ab MODEL_A,MODEL_B", param_hint="--ab")
        pair = (names[0], names[1])
    url = store_url(database_url, config_path)  # the store `serve --config` uses
    try:
        data = asyncio.run(_query(url, query, pair))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except Exception as exc:  # an unusable URL, a database that cannot be reached
        raise click.ClickException(
            f"cannot read the request log: {type(exc).__name__}: {exc}"
        ) from None
    if as_json:
        import orjson

        totals = data["totals"]
        payload = {"requests": totals["requests"], "cost_usd": totals["cost_usd"], **data}
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return
    rows = data[_BY[by]]
    if as_csv and "ab" in data:
        rows = [{"side": side, **data["ab"][side]} for side in ("a", "b")]
    if as_csv:
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    _print_tables(data, by)
    if data["shadows"]:
        _print_shadows(data["shadows"])
    if data["judged"]:
        _print_judged(data["judged"])
    if data["rollouts"]:
        _print_rollouts(data["rollouts"])
    if data["batches"]:
        _print_batches(data["batches"])
    if data.get("evaluations"):
        _print_evaluations(data["evaluations"])
    if "ab" in data:
        _print_ab(data["ab"])


def _report_trace(url: str, trace_id: str, tenant: str | None, as_json: bool) -> None:
    try:
        data = asyncio.run(_trace(url, trace_id, tenant))
    except Exception as exc:
        raise click.ClickException(
            f"cannot read the request log: {type(exc).__name__}: {exc}"
        ) from None
    if data is None:
        raise click.ClickException(f"no calls logged under trace {trace_id}")
    if as_json:
        import orjson

        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"trace {trace_id}")
    for column in ("model", "reason", "status", "in", "out", "cost_usd", "on strong"):
        table.add_column(column, justify="left" if column in ("model", "reason") else "right")
    for call in data["calls"]:
        table.add_row(
            call["model"] or "-",
            call["reason"] or "-",
            str(call["status"]),
            f"{call['input_tokens'] + call['cache_creation_tokens'] + call['cache_read_tokens']:,}",
            f"{call['output_tokens']:,}",
            call["cost_usd"] or "-",
            call["baseline_cost_usd"] or "-",
        )
    console = Console()
    console.print(table)
    console.print(
        f"{len(data['calls'])} calls: ${data['cost_usd'] or '?'} "
        f"against ${data['baseline_cost_usd'] or '?'} all on the strong model"
    )


def _print_tables(data: dict[str, Any], by: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = data["totals"]
    console.print(
        f"[bold]{t['requests']:,} requests[/bold]  spend {_spend(t)}  {_saved(t)}  "
        f"cache saved ${t['cache_savings_usd']:.4f}  escalated {t['escalation_rate']:.1%}  "
        f"errors {t['error_rate']:.1%}",
        highlight=False,
    )
    left_out = []
    if t["unpriced_requests"]:
        left_out.append(
            f"{t['unpriced_requests']:,} unpriced requests are not in the spend (no price for "
            "their model, tier or fee; never counted as $0)"
        )
    if t["estimated_requests"]:
        left_out.append(
            f"${t['estimated_cost_usd']:.4f} of the spend, over {t['estimated_requests']:,} "
            "requests, is estimated (the upstream reported no usage, or the stream was cut)"
        )
    for line in left_out:
        console.print(f"  note: {line}", highlight=False)
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
        if column in (key, "route", "model"):  # names wrap rather than lose their ends
            table.add_column(column, justify="left", overflow="fold", min_width=12)
        else:
            table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            *(
                _spend(row)
                if column == "cost_usd" and "unpriced_requests" in row
                else _cell(column, row.get(column), "no baseline")
                for column in columns
            )
        )
    console.print(table)


def _spend(row: dict[str, Any]) -> str:
    """A spend figure that says what it leaves out: unpriced requests (not in it, never $0)
    and how much of it is estimated."""
    unpriced = row.get("unpriced_requests") or 0
    if unpriced and not row.get("priced_requests"):
        return f"unpriced ({unpriced:,})"  # nothing priced: no figure at all, not $0
    text = _cell("cost_usd", row["cost_usd"])
    if unpriced:
        text += f" + {unpriced:,} unpriced"
    if row.get("estimated_requests"):
        estimated = _cell("cost_usd", row["estimated_cost_usd"])
        text += f" (est. {estimated} over {row['estimated_requests']:,})"
    return text


def _saved(totals: dict[str, Any]) -> str:
    if totals["savings_usd"] is None:
        return "saved: no baseline"
    return f"always-baseline ${totals['baseline_usd']:.4f}  saved ${totals['savings_usd']:.4f}"


def _print_shadows(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    columns = [
        "route",
        "served_model",
        "model",
        "shadows",
        "error_rate",
        "agreement_rate",
        "served_cost_usd",
        "candidate_cost_usd",
        "cost_ratio",
    ]
    table = Table(title="shadow traffic (candidate = model)")
    for column in columns:
        table.add_column(column, justify="left" if column.endswith(("route", "model")) else "right")
    for row in rows:
        table.add_row(*(_cell(column, row.get(column)) for column in columns))
    Console().print(table)


def _interval(value: float | None, ci: list[float] | tuple[float, float] | None) -> str:
    """``61.0% [55.2-66.5]``: a rate and its 95% interval."""
    if value is None:
        return "-"
    return f"{value:.1%}" + (f" [{ci[0]:.1%}-{ci[1]:.1%}]" if ci else "")


def _print_judged(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="judged quality, candidate vs served (95% intervals)")
    for column in ("kind", "route", "served", "candidate", "judge", "mode", "pairs"):
        table.add_column(column, justify="right" if column == "pairs" else "left")
    for column in ("win", "tie", "loss", "quality", "ratio", "judge $"):
        table.add_column(column, justify="right")
    for row in rows:
        ratio = row.get("quality_ratio")
        ci = row.get("quality_ratio_ci")
        shown_ratio = (
            "-" if ratio is None else f"{ratio:.2f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "")
        )
        table.add_row(
            row["kind"],
            row["route"] or "-",
            row["served_model"],
            row["candidate_model"],
            row["judge_model"],
            row["mode"],
            f"{row['judged']:,}",
            _interval(row["win_rate"], row["win_ci"]),
            _interval(row["tie_rate"], row["tie_ci"]),
            _interval(row["loss_rate"], row["loss_ci"]),
            _interval(row["quality"], row["quality_ci"]),
            shown_ratio,
            _cell("judge_cost_usd", row["judge_cost_usd"]),
        )
    Console().print(table)


def _print_rollouts(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console

    console = Console()
    for row in rows:
        console.print(
            f"[bold]rollout {row['route']}[/bold] -> {row['model']}: {row['percent']:g}% "
            f"({row['state']}, step {row['step'] + 1}, since {row['since']})"
        )
        for event in row["events"][:5]:
            console.print(
                f"  v{event['version']} {event['kind']}: {event['from_percent']:g}% -> "
                f"{event['to_percent']:g}%  {event['reason']}"
            )


def _print_batches(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="batch jobs (newest first; failed = errored, canceled or expired)")
    table.add_column("id", justify="left", overflow="fold", min_width=14)
    table.add_column("status", justify="left")
    for column in ("items", "queued", "done", "failed", "cost_usd"):
        table.add_column(column, justify="right")
    for row in rows:
        failed = row["errored"] + row["canceled"] + row["expired"]
        table.add_row(
            row["id"],
            row["status"],
            *(
                _cell(c, v)
                for c, v in (
                    ("items", row["requests"]),
                    ("queued", row["queued"]),
                    ("done", row["succeeded"]),
                    ("failed", failed),
                    ("cost_usd", row["cost_usd"]),
                )
            ),
        )
    Console().print(table)


def _print_evaluations(rows: list[dict[str, Any]]) -> None:
    """Evaluation traffic (``tiergate eval run``), newest run first: in the spend above."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="evaluation runs (tiergate eval run; included in the spend above)")
    for column in ("run", "model", "requests", "error_rate", "cost_usd"):
        table.add_column(column, justify="left" if column in ("run", "model") else "right")
    for row in rows:
        table.add_row(
            row["run"],
            row["model"] or "-",
            str(row["requests"]),
            f"{row['error_rate']:.1%}",
            _cell("cost_usd", row["cost_usd"]),
        )
    Console().print(table)


def _cell(column: str, value: Any, missing: str = "-") -> str:
    if value is None:
        return missing if column in ("savings_usd", "baseline_usd") else "-"
    if column.endswith("_usd"):  # per-request figures need more places than totals
        return f"${value:,.6f}" if abs(value) < 0.1 else f"${value:,.4f}"
    if column == "cost_ratio":
        return f"{value:.2f}x"
    if column.endswith("_rate"):
        return f"{value:.1%}"
    if column.endswith("_ms"):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _print_ab(ab: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    a, b = ab["a"], ab["b"]
    table = Table(title=f"A/B on route {ab['route'] or '(all routes)'}")
    for column in ("", a["model"], b["model"], "B - A"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "requests", _cell("requests", a["requests"]), _cell("requests", b["requests"]), ""
    )
    for figure, change in ab["delta"].items():
        table.add_row(
            figure,
            _cell(figure, a.get(figure)),
            _cell(figure, b.get(figure)),
            _cell(figure, change),
        )
    Console().print(table)
