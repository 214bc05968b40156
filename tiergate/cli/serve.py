"""``tiergate serve``: run the gateway."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from tiergate.cli.help import examples
from tiergate.errors import ConfigError

if TYPE_CHECKING:
    from tiergate.config import Settings


@click.command(
    epilog=examples(
        "tiergate serve                          # the embedded default on 127.0.0.1:8000",
        "tiergate serve --config tiergate.yaml --host 0.0.0.0 --workers 4",
    )
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config file (default: $TIERGATE_CONFIG, else the embedded default).",
)
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to bind (default 8000).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes; they share state through the store.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
    help="How much the server logs (uvicorn's levels; info logs every request).",
)
@click.option(
    "--allow-open-remote",
    is_flag=True,
    default=None,
    help="With no virtual key yet, serve without authentication on a non-loopback address "
    "too (config: allow_open_remote). Off, such a start is refused.",
)
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    workers: int,
    log_level: str,
    allow_open_remote: bool | None,
) -> None:
    """Serve the OpenAI- and Anthropic-compatible API."""
    import uvicorn

    from tiergate.config import load_settings
    from tiergate.server.factory import create_app

    overrides = {"host": host, "port": port, "allow_open_remote": allow_open_remote}
    try:
        settings = load_settings(config_path, overrides=overrides)
        # Build the app before saying anything: a route, deployment or model the config gets
        # wrong stops the command here (and never crashes every worker uvicorn restarts).
        app = create_app(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if workers > 1:
        _refuse_open(settings)
    served = sorted({d.model for d in settings.deployments})
    click.echo(
        f"tiergate serving on http://{settings.host}:{settings.port} "
        f"(OpenAI: /v1/chat/completions, Anthropic: /v1/messages); models: {', '.join(served)}",
        err=True,
    )
    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        # httptools with read deadlines: a slow client's connection is closed after a bound.
        http="tiergate.server.protocol:GuardedHttpToolsProtocol",
        lifespan="on",
        # tiergate never reads the client address, so uvicorn's X-Forwarded-For rewriting
        # would be per-request work for nothing; nor does it advertise a Server header.
        proxy_headers=False,
        server_header=False,
    )
    if workers > 1:
        # Workers rebuild the app from the environment; pass the file and flags through it.
        if config_path:
            os.environ["TIERGATE_CONFIG"] = os.path.abspath(config_path)
        if allow_open_remote:
            os.environ["TIERGATE_ALLOW_OPEN_REMOTE"] = "1"
        uvicorn.run("tiergate.server.factory:create_app", factory=True, workers=workers, **options)
        return
    uvicorn.run(app, **options)
    sys.exit(0)


def _refuse_open(settings: Settings) -> None:
    """Before starting workers: refuse a non-loopback host while no key exists (each worker
    checks its own sockets too, but a refused worker is only restarted by uvicorn)."""
    import asyncio

    from tiergate.gateway.auth import is_loopback
    from tiergate.server.app import open_refusal
    from tiergate.store.backend import open_store
    from tiergate.store.location import store_url
    from tiergate.tenancy import KeyStore

    if settings.allow_open_remote or is_loopback(settings.host):
        return

    async def keys() -> int:
        store = await open_store(store_url(settings.database_url, settings.data_dir))
        try:
            return await KeyStore(store).count_all()
        finally:
            await store.aclose()

    try:
        count = asyncio.run(keys())
    except Exception as exc:  # an unusable URL, a database that cannot be reached
        raise click.ClickException(f"store: {type(exc).__name__}: {exc}") from None
    if count == 0:
        raise click.ClickException(open_refusal(settings.host))
