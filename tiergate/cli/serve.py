"""``tiergate serve``: run the gateway."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from tiergate.cli.help import examples
from tiergate.errors import ConfigError


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
    "--log-level", default="warning", show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
    help="How much the server logs (uvicorn's levels; info logs every request).",
)  # fmt: skip
def serve(
    config_path: str | None, host: str | None, port: int | None, workers: int, log_level: str
) -> None:
    """Serve the OpenAI- and Anthropic-compatible API."""
    import uvicorn

    from tiergate.config import load_settings

    try:
        settings = load_settings(config_path, overrides={"host": host, "port": port})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
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
        http="httptools",
        lifespan="on",
        # tiergate never reads the client address, so uvicorn's X-Forwarded-For rewriting
        # would be per-request work for nothing; nor does it advertise a Server header.
        proxy_headers=False,
        server_header=False,
    )
    if workers > 1:
        from tiergate.server.factory import create_app

        # Build the app once here, only to check it: a route, deployment or model the
        # config gets wrong must stop the command, not crash every worker uvicorn restarts.
        try:
            create_app(settings)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        # Workers rebuild the app from the environment; pass the file and flags through it.
        if config_path:
            os.environ["TIERGATE_CONFIG"] = os.path.abspath(config_path)
        uvicorn.run("tiergate.server.factory:create_app", factory=True, workers=workers, **options)
        return
    from tiergate.server.factory import create_app

    try:
        app = create_app(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    uvicorn.run(app, **options)
    sys.exit(0)
