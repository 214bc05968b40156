"""``tiergate models``: the catalog as the gateway would price it, config included.

Per model: prices per million tokens (input, output, cached read, cache writes), the batch and
long-context tables, price modifiers and server-tool fees, context window, max output,
capabilities, the credit multiplier of the config's credit plan, and where and when each price
was read. ``--json`` prints the full records (``tiergate.catalog.listing``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from tiergate.errors import ConfigError, TiergateError


@click.command(epilog="\b\nExample:\n  tiergate models --json --config tiergate.yaml\n")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file whose `models:` entries add or override catalog entries.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def models(config_path: str | None, as_json: bool) -> None:
    """List the model catalog: prices, cache and batch rates, limits, capabilities, sources."""
    from tiergate.catalog import load_catalog
    from tiergate.catalog.listing import model_record
    from tiergate.config import load_settings
    from tiergate.cost import CreditPlan

    try:
        settings = load_settings(config_path)
    except TiergateError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        catalog = load_catalog(settings.models)
        plan = (
            CreditPlan.from_config(settings.credits, catalog.resolve) if settings.credits else None
        )
    except ConfigError as exc:  # found after the file was read: its line from the settings
        raise click.ClickException(str(settings.locate(exc))) from None
    except TiergateError as exc:
        raise click.ClickException(str(exc)) from None
    records = [
        model_record(m, plan.multipliers.get(m.id) if plan is not None else None)
        for m in catalog.models()
    ]
    if as_json:
        import orjson

        click.echo(orjson.dumps({"models": records}, option=orjson.OPT_INDENT_2).decode())
        return
    _print(records, plan is not None)


def _usd(value: str | None) -> str:
    if value is None:
        return "-"
    return "$" + format(Decimal(value).normalize(), "f")


def _print(records: list[dict[str, Any]], credits: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="model catalog (USD per million tokens)",
        caption="unpriced: reported as such, never as $0; long: the rates over the threshold, "
        "for the whole request; tiers and geo multiply every token rate",
    )
    columns = [
        "model",
        "provider",
        "input",
        "output",
        "cached",
        "write 5m/1h",
        "batch in/out",
        "long context",
        "modifiers",
        "context",
        "max out",
        "capabilities",
    ]
    if credits:
        columns.append("credits x")
    columns += ["source", "as of"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in records:
        p = r["pricing"]
        if p is None:
            prices = ["unpriced", "", "", "", "", "", ""]
        else:
            s, b, long = p["standard"], p["batch"], p["long_context"]
            modifiers = [f"{k} x{v}" for k, v in p["service_tiers"].items()]
            modifiers += [f"geo {k} x{v}" for k, v in p["inference_geo"].items()]
            modifiers += [
                f"{name} {'unpriced' if fee is None else _usd(fee) + '/1k'}"
                for name, fee in p["server_tools_per_1000"].items()
            ]
            prices = [
                _usd(s["input"]),
                _usd(s["output"]),
                _usd(s["cache_read"]),
                f"{_usd(s['cache_write_5m'])}/{_usd(s['cache_write_1h'])}",
                f"{_usd(b['input'])}/{_usd(b['output'])}" if b else "-",
                f">{long['threshold_tokens']:,}: {_usd(long['input'])}/{_usd(long['output'])}"
                if long
                else "-",
                ", ".join(modifiers) or "-",
            ]
        row = [
            r["id"],
            r["provider"],
            *prices,
            f"{r['context_window']:,}",
            f"{r['max_output']:,}",
            ", ".join(r["capabilities"]) or "-",
        ]
        if credits:
            row.append(r["credit_multiplier"] or "-")
        row += [r["price_source"] or "-", r["price_as_of"] or "-"]
        table.add_row(*row)
    Console().print(table)
