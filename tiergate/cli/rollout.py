"""``tiergate rollout``: see and steer the managed rollouts of the gateway's routes.

Reads and changes the state ``serve`` keeps in its store (``--config`` or ``TIERGATE_CONFIG``
find it as ``serve`` does; ``--database-url`` overrides), so a change made here reaches every
replica at its next check. Each change is a compare-and-set logged as an event with the reason
given (``--reason``), exactly as the gateway's own steps and roll-backs are.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime
from typing import Any

import click

from tiergate.cli.help import examples
from tiergate.cli.store import database_url_option

_config_option = click.option(
    "--config",
    "config",
    default=None,
    type=click.Path(dir_okay=False),
    help="The gateway's config file (default: TIERGATE_CONFIG).",
)


def _settings(config: str | None) -> Any:
    from tiergate.config import load_settings
    from tiergate.errors import ConfigError

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _url(config: str | None, database_url: str | None) -> str:
    from tiergate.store.location import store_url

    settings = _settings(config)
    return store_url(database_url or settings.database_url, settings.data_dir)


@click.group(epilog=examples("tiergate rollout status", "tiergate rollout pause support"))
def rollout() -> None:
    """Managed rollouts: status, pause, resume, rollback."""


@rollout.command(epilog=examples("tiergate rollout status support --json"))
@click.argument("route", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object (for scripts).")
@click.option("--events", default=10, show_default=True, help="Latest events shown per route.")
@_config_option
@database_url_option
def status(
    route: str | None, as_json: bool, events: int, config: str | None, database_url: str | None
) -> None:
    """The share, state and latest events of each managed rollout (or ROUTE's)."""
    data = asyncio.run(_status(_url(config, database_url), route, events))
    if as_json:
        import orjson

        click.echo(orjson.dumps({"rollouts": data}, option=orjson.OPT_INDENT_2).decode())
        return
    if not data:
        click.echo("no managed rollouts" + (f" on route {route}" if route else ""))
    for row in data:
        click.echo(
            f"{row['route']}: {row['model']} at {row['percent']:g}% ({row['state']}, "
            f"step {row['step'] + 1}, version {row['version']})"
        )
        for event in row["events"]:
            when = datetime.fromtimestamp(event["ts_ms"] / 1000, UTC).isoformat(timespec="seconds")
            click.echo(
                f"  {when} v{event['version']} {event['kind']}: {event['from_percent']:g}% -> "
                f"{event['to_percent']:g}% by {event['replica']}: {event['reason']}"
            )


async def _status(url: str, route: str | None, limit: int) -> list[dict[str, Any]]:
    from tiergate.store.backend import open_store
    from tiergate.store.rollouts import events, load

    store = await open_store(url)
    try:
        out = []
        for row in await load(store, route):
            latest = await events(store, row.route, limit=limit)
            out.append(
                {
                    "route": row.route,
                    "model": row.model,
                    "percent": row.percent,
                    "step": row.step,
                    "state": row.state,
                    "version": row.version,
                    "events": latest,
                }
            )
        return out
    finally:
        await store.aclose()


def _change_command(kind: str, help_text: str) -> click.Command:
    @click.argument("route")
    @click.option("--reason", default=None, help="Why (logged with the event).")
    @_config_option
    @database_url_option
    def command(
        route: str, reason: str | None, config: str | None, database_url: str | None
    ) -> None:
        settings = _settings(config)
        from tiergate.gateway.rollout_control import managed_rollouts
        from tiergate.store.location import store_url

        spec = managed_rollouts(settings.routes).get(route)
        url = store_url(database_url or settings.database_url, settings.data_dir)
        why = f"{kind} by {getpass.getuser()}" + (f": {reason}" if reason else "")
        message = asyncio.run(_change(url, route, kind, why, spec))
        click.echo(message)

    command.__doc__ = help_text
    example = examples(f'tiergate rollout {kind} support --reason "judged quality dropped"')
    return rollout.command(name=kind, epilog=example)(command)


async def _change(url: str, route: str, kind: str, reason: str, spec: Any) -> str:
    from tiergate.store.backend import open_store
    from tiergate.store.rollouts import PAUSED, RAMPING, ROLLED_BACK, Change, apply, load

    store = await open_store(url)
    try:
        for _ in range(5):  # a replica may step it at the same moment: read again and retry
            rows = await load(store, route)
            if not rows:
                raise click.ClickException(f"route {route!r} has no managed rollout in the store")
            row = rows[0]
            if kind == "pause":
                if row.state != RAMPING:
                    raise click.ClickException(f"{route} is {row.state}, not ramping")
                change = Change(
                    kind="pause", percent=row.percent, step=row.step, state=PAUSED, reason=reason
                )
            elif kind == "resume":
                if row.state == RAMPING:
                    raise click.ClickException(f"{route} is already ramping")
                if row.state == ROLLED_BACK:
                    if spec is None:
                        raise click.ClickException(
                            f"route {route!r} has no rollout with a ramp or guard in the config "
                            "given: pass --config with the gateway's config"
                        )
                    change = Change(
                        kind="resume",
                        percent=spec.steps[0],
                        step=0,
                        state=RAMPING,
                        reason=reason,
                        new_epoch=True,
                    )
                else:
                    change = Change(
                        kind="resume",
                        percent=row.percent,
                        step=row.step,
                        state=RAMPING,
                        reason=reason,
                        new_epoch=True,
                    )
            else:
                change = Change(
                    kind="rollback", percent=0.0, step=0, state=ROLLED_BACK, reason=reason
                )
            if await apply(store, row, change, "cli"):
                shares = f"{row.percent:g}% -> {change.percent:g}%"
                return f"{route}: {change.kind} {shares} ({change.state})"
        raise click.ClickException(f"{route}: the rollout kept changing; try again")
    finally:
        await store.aclose()


pause = _change_command("pause", "Hold ROUTE's rollout at its current share (no more steps).")
resume = _change_command(
    "resume", "Ramp ROUTE's rollout again (from its first step after a rollback)."
)
rollback = _change_command(
    "rollback", "Send all of ROUTE's traffic back: the candidate's share to 0."
)
