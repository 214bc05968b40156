"""``tiergate cost``: workload projections side by side, and price import from genai-prices.

Thin commands: the arithmetic lives in ``tiergate.cost``. Heavy imports (rich, orjson, the
catalog) happen inside the commands so ``tiergate --help`` stays fast.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import click

from tiergate.cli.help import examples
from tiergate.errors import ConfigError, TiergateError


def _number(value: Decimal | None) -> float | None:
    # JSON numbers for scripts; the exact Decimal string is given alongside (``*_exact``).
    return None if value is None else float(value)


def _exact(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _catalog(config_path: str | None) -> Any:
    from tiergate.catalog import load_catalog
    from tiergate.config import load_settings

    # --config, else $TIERGATE_CONFIG: the prices the gateway itself would charge.
    settings = load_settings(config_path)
    try:
        return load_catalog(settings.models)
    except ConfigError as exc:
        raise settings.locate(exc) from None


_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file whose `models:` entries add or override catalog prices.",
)


@click.group(epilog=examples("tiergate cost project --help"))
def cost() -> None:
    """Cost tools: workload projections across models; price import."""


@cost.command(
    epilog=examples(
        "tiergate cost project --model claude-haiku-4-5 --model gpt-5.4 \\",
        "    --requests-per-day 10000 --input-tokens 1200 --output-tokens 300 \\",
        "    --cached-prefix-tokens 1000 --cache-hit-rate 0.9",
    )
)
@click.option(
    "--model", "models", multiple=True, required=True, help="Model id or alias (repeatable)."
)
@click.option(
    "--requests-per-day",
    type=click.IntRange(min=0),
    required=True,
    help="Requests the workload sends a day (the monthly figure is 30 days).",
)
@click.option("--input-tokens", type=click.IntRange(min=0), required=True, help="Per request.")
@click.option("--output-tokens", type=click.IntRange(min=0), required=True, help="Per request.")
@click.option(
    "--cached-prefix-tokens",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Leading input tokens that repeat across requests (system prompt, documents).",
)
@click.option("--cache-hit-rate", default="0", show_default=True, help="Share of hits, 0..1.")
@click.option(
    "--cache-ttl",
    type=click.Choice(["5m", "1h"]),
    default="5m",
    show_default=True,
    help="TTL of the cache writes on a miss.",
)
@click.option("--batch", is_flag=True, help="Price at batch (Message Batches) rates.")
@_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def project(
    models: tuple[str, ...],
    requests_per_day: int,
    input_tokens: int,
    output_tokens: int,
    cached_prefix_tokens: int,
    cache_hit_rate: str,
    cache_ttl: str,
    batch: bool,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Daily and monthly (30-day) cost of a workload on each model, side by side."""
    from tiergate.cost.projection import DAYS_PER_MONTH, Workload, money, project_workload

    try:
        rate = Decimal(cache_hit_rate)
    except InvalidOperation:
        raise click.BadParameter(
            "must be a number between 0 and 1", param_hint="--cache-hit-rate"
        ) from None
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise click.BadParameter("must be between 0 and 1", param_hint="--cache-hit-rate")
    try:
        catalog = _catalog(config_path)
        infos = [catalog.resolve(name) for name in models]
    except TiergateError as exc:
        raise click.ClickException(str(exc)) from None
    ttl: Literal["5m", "1h"] = "1h" if cache_ttl == "1h" else "5m"
    workload = Workload(
        requests_per_day=requests_per_day,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_prefix_tokens=cached_prefix_tokens,
        cache_hit_rate=rate,
        batch=batch,
        cache_ttl=ttl,
    )
    rows = [project_workload(workload, info) for info in infos]
    if as_json:
        import orjson

        payload = [
            {
                "model": row.model,
                "per_request_usd": _number(row.per_request_usd),
                "daily_usd": _number(row.daily_usd),
                "monthly_usd": _number(row.monthly_usd),
                "per_request_usd_exact": _exact(row.per_request_usd),
                "daily_usd_exact": _exact(row.daily_usd),
                "monthly_usd_exact": _exact(row.monthly_usd),
                "days_per_month": DAYS_PER_MONTH,
                "priced": row.priced,
                "batch": batch,
                "cache_applied": row.cache_applied,
            }
            for row in rows
        ]
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console
    from rich.table import Table

    shape = (
        f"{requests_per_day:,} requests/day, "
        f"{input_tokens:,} input + {output_tokens:,} output tokens each"
    )
    if cached_prefix_tokens:
        shape += f", {cached_prefix_tokens:,}-token cached prefix at {rate:.0%} hits ({ttl} TTL)"
    if batch:
        shape += ", batch rates"
    notes = [f"month = {DAYS_PER_MONTH} days"]
    skipped = [r.model for r in rows if cached_prefix_tokens and not r.cache_applied]
    if skipped:
        notes.append(
            f"no caching on {', '.join(skipped)}: prefix below the model's minimum cacheable "
            "length (or no prompt caching), priced as plain input"
        )
    unpriced = [r.model for r in rows if not r.priced]
    if unpriced:
        notes.append(f"unpriced (no known price, not $0): {', '.join(unpriced)}")
    table = Table(title=shape, caption="; ".join(notes))
    table.add_column("model", justify="left")
    for header in ("per request", "per day", "per month"):
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(
            row.model, money(row.per_request_usd, 6), money(row.daily_usd), money(row.monthly_usd)
        )
    # A wide console so the table is never wrapped when piped into a file or a planning doc.
    Console(width=max(100, len(shape) + 4)).print(table)


@cost.command(
    "import-prices",
    epilog=examples(
        "tiergate cost import-prices --model claude-haiku-4-5 --out prices.yaml",
        before="Output: YAML `models:` entries (id, pricing per million tokens) to paste\n"
        "into your config.",
    ),
)
@click.option("--model", "models", multiple=True, help="Catalog model id or alias (default: all).")
@_CONFIG
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the YAML to this file (after showing what would change and asking).",
)
@click.option("--yes", is_flag=True, help="Write --out without asking.")
@click.option("--dry-run", is_flag=True, help="Only show what would change.")
def import_prices_command(
    models: tuple[str, ...], config_path: str | None, out: str | None, yes: bool, dry_run: bool
) -> None:
    """Current prices from the genai-prices package, as `models:` entries for your config.

    First shows what would change against the prices in use now (catalog and config), rate by
    rate; then writes the YAML (to --out after a confirmation, else to standard output). Paste
    it under `models:` in your config: it replaces the token rates of those models and keeps
    their tier, geography and server-tool rules. Needs `pip install genai-prices`.
    """
    import yaml

    from tiergate.cost.importer import changes, import_prices

    try:
        catalog = _catalog(config_path)
        result = import_prices(catalog, list(models) or None)
        diff = changes(catalog, result.entries)
    except TiergateError as exc:
        raise click.ClickException(str(exc)) from None
    for model_id, why in result.skipped.items():
        click.echo(f"skipped {model_id}: {why}", err=True)
    _show_changes(diff, [e["id"] for e in result.entries])
    if dry_run:
        return
    text = yaml.safe_dump({"models": result.entries}, sort_keys=False, width=100)
    if out:
        if diff and not yes:
            click.confirm(f"write these prices to {out}?", abort=True, err=True)
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {len(result.entries)} entries to {out}", err=True)
    else:
        click.echo(text, nl=False)


def _show_changes(
    diff: dict[str, list[tuple[str, str | None, str | None]]], imported: list[str]
) -> None:
    """The diff on standard error (standard output may be the YAML itself)."""
    if not diff:
        click.echo(f"no price changes ({len(imported)} models compared)", err=True)
        return
    click.echo("price changes (USD per million tokens, as billed):", err=True)
    for model_id, rows in diff.items():
        click.echo(f"  {model_id}:", err=True)
        for name, was, now in rows:
            click.echo(f"    {name}: {was or '(none)'} -> {now or '(none)'}", err=True)
    unchanged = [m for m in imported if m not in diff]
    if unchanged:
        click.echo(f"  unchanged: {', '.join(unchanged)}", err=True)
