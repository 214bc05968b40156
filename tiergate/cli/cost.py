"""``tiergate cost``: workload cost projections side by side."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click

from tiergate.errors import TiergateError


def _decimal(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@click.group()
def cost() -> None:
    """Cost tools: projections for a workload across models."""


@cost.command()
@click.option(
    "--model", "models", multiple=True, required=True, help="Model id or alias (repeatable)."
)
@click.option("--requests-per-day", type=click.IntRange(min=0), required=True)
@click.option("--input-tokens", type=click.IntRange(min=0), required=True, help="Per request.")
@click.option("--output-tokens", type=click.IntRange(min=0), required=True, help="Per request.")
@click.option("--cached-prefix-tokens", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--cache-hit-rate", default="0", show_default=True, help="0..1")
@click.option("--batch", is_flag=True, help="Price at batch (Message Batches) rates.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file whose `models:` add or override catalog prices.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def project(
    models: tuple[str, ...],
    requests_per_day: int,
    input_tokens: int,
    output_tokens: int,
    cached_prefix_tokens: int,
    cache_hit_rate: str,
    batch: bool,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Daily and monthly (30-day) cost of a workload on each model, side by side."""
    from tiergate.catalog import load_catalog
    from tiergate.config import load_settings
    from tiergate.cost.projection import Workload, money, project_workload

    try:
        rate = Decimal(cache_hit_rate)
    except InvalidOperation:
        raise click.BadParameter(
            "must be a number between 0 and 1", param_hint="--cache-hit-rate"
        ) from None
    if not 0 <= rate <= 1:
        raise click.BadParameter("must be between 0 and 1", param_hint="--cache-hit-rate")
    try:
        overrides = load_settings(config_path).models if config_path else None
        catalog = load_catalog(overrides)
        infos = [catalog.resolve(name) for name in models]
    except TiergateError as exc:
        raise click.ClickException(str(exc)) from None
    workload = Workload(
        requests_per_day, input_tokens, output_tokens, cached_prefix_tokens, rate, batch
    )
    rows = [project_workload(workload, info) for info in infos]
    if as_json:
        import orjson

        click.echo(
            orjson.dumps(
                [
                    {
                        "model": row.model,
                        "per_request_usd": _decimal(row.per_request_usd),
                        "daily_usd": _decimal(row.daily_usd),
                        "monthly_usd": _decimal(row.monthly_usd),
                        "priced": row.daily_usd is not None,
                        "batch": batch,
                        "cache_applied": row.cache_applied,
                    }
                    for row in rows
                ],
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return
    from rich.console import Console
    from rich.table import Table

    shape = (
        f"{requests_per_day:,} requests/day x ({input_tokens:,} in + {output_tokens:,} out tokens)"
    )
    if cached_prefix_tokens:
        shape += f", {cached_prefix_tokens:,}-token cached prefix at {rate:.0%} hits"
    caption = "month = 30 days"
    skipped = [r.model for r in rows if cached_prefix_tokens and not r.cache_applied]
    if skipped:
        caption += (
            f"; no caching on {', '.join(skipped)}: prefix below the model's minimum"
            " cacheable length (or no prompt caching), priced as plain input"
        )
    table = Table(title=shape + (" at batch rates" if batch else ""), caption=caption)
    for header in ("model", "per request", "per day", "per month"):
        table.add_column(header, justify="left" if header == "model" else "right")
    for row in rows:
        table.add_row(
            row.model, money(row.per_request_usd, 6), money(row.daily_usd), money(row.monthly_usd)
        )
    Console().print(table)
