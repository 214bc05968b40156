"""``tiergate keys``: manage virtual keys directly in the store (same data as the admin API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import click

from tiergate.cli.help import examples
from tiergate.cli.store import store_options, store_url
from tiergate.tenancy.keys import MAX_EXPIRY_DAYS, MAX_RATE, check_tenant, parse_budget, usd_text

T = TypeVar("T")


def _budget(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    """The same rule as the admin API's: a finite, non-negative amount within the maximum."""
    if value is None:
        return None
    try:
        return parse_budget(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _tenant(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The same rule as the admin API's: one safe pattern, never empty, never ``*``."""
    if value is None:
        return None
    try:
        return check_tenant(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _run(
    work: Callable[[Any], Awaitable[T]], database_url: str | None, config_path: str | None
) -> T:
    from tiergate.store.backend import open_store
    from tiergate.tenancy import KeyStore

    url = store_url(database_url, config_path)  # the store `serve` uses

    async def main() -> T:
        store = await open_store(url)
        try:
            return await work(KeyStore(store))
        finally:
            await store.aclose()

    try:
        return asyncio.run(main())
    except click.ClickException:
        raise
    except Exception as exc:  # an unusable URL, a database that cannot be reached
        raise click.ClickException(f"key store: {type(exc).__name__}: {exc}") from None


@click.group(epilog=examples("tiergate keys create --tenant acme --budget-usd 50 --rpm 600"))
def keys() -> None:
    """Create, list, rotate and revoke virtual keys."""


@keys.command(
    epilog=examples(
        "tiergate keys create --tenant acme",
        "tiergate keys create --tenant acme --name ci --model auto --budget-usd 20 \\",
        "    --budget-period day --rpm 60 --expires-in-days 30",
    )
)
@click.option(
    "--tenant",
    required=True,
    callback=_tenant,
    help="The tenant the key belongs to (reports, budgets): letters, digits, '.', '_', '-'.",
)
@click.option("--name", default=None, help="A label to tell keys apart in `keys list`.")
@click.option("--model", "models", multiple=True, help="Allowed model or route (repeatable).")
@click.option(
    "--budget-usd", default=None, callback=_budget, help="Budget in USD for --budget-period."
)
@click.option(
    "--budget-period",
    type=click.Choice(["day", "month", "total"]),
    default="month",
    show_default=True,
    help="When the budget resets (UTC day or month), or never (total).",
)
@click.option("--rpm", type=click.IntRange(1, MAX_RATE), default=None, help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(1, MAX_RATE), default=None, help="Tokens per minute.")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, MAX_EXPIRY_DAYS),
    default=None,
    help="The key stops working this many days from now (default: never).",
)
@store_options
def create(
    tenant: str,
    name: str | None,
    models: tuple[str, ...],
    budget_usd: Decimal | None,
    budget_period: str,
    rpm: int | None,
    tpm: int | None,
    expires_in_days: int | None,
    database_url: str | None,
    config_path: str | None,
) -> None:
    """Create a key; its secret is printed once."""
    expires = int((time.time() + expires_in_days * 86400) * 1000) if expires_in_days else None
    info, secret = _run(
        lambda store: store.create(
            tenant,
            name=name,
            models=list(models) or None,
            budget_usd=budget_usd,
            budget_period=budget_period if budget_usd is not None else None,
            rpm=rpm,
            tpm=tpm,
            expires_ms=expires,
        ),
        database_url,
        config_path,
    )
    click.echo(f"{info.id}  tenant={info.tenant}")
    click.echo(secret)
    click.echo("(store the key now: it is not shown again)", err=True)


@keys.command(name="list", epilog=examples("tiergate keys list --tenant acme"))
@click.option(
    "--tenant", default=None, callback=_tenant, help="Only this tenant's keys (default: all)."
)
@store_options
def list_keys(tenant: str | None, database_url: str | None, config_path: str | None) -> None:
    """List keys (never their secrets)."""
    for info in _run(lambda store: store.list(tenant), database_url, config_path):
        state = "revoked" if info.revoked_ms else "active"
        budget = (
            f" budget=${usd_text(info.budget_usd)}/{info.budget_period}"
            if info.budget_usd is not None
            else ""
        )
        click.echo(f"{info.id}  {info.prefix}...  tenant={info.tenant}  {state}{budget}")


@keys.command(epilog=examples("tiergate keys rotate key_01H..."))
@click.argument("key_id")
@store_options
def rotate(key_id: str, database_url: str | None, config_path: str | None) -> None:
    """Give KEY_ID a new secret (the old one stops working)."""
    rotated = _run(lambda store: store.rotate(key_id), database_url, config_path)
    if rotated is None:
        raise click.ClickException(f"no active key {key_id}")
    click.echo(rotated[1])


@keys.command(epilog=examples("tiergate keys revoke key_01H..."))
@click.argument("key_id")
@store_options
def revoke(key_id: str, database_url: str | None, config_path: str | None) -> None:
    """Revoke KEY_ID."""
    if not _run(lambda store: store.revoke(key_id), database_url, config_path):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")
