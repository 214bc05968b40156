"""What the CLI tools that read the store share: their ``--config`` and ``--database-url``
options, and finding the store ``tiergate serve`` writes
(``store.location.configured_store_url``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config file, as given to `serve` (default: $TIERGATE_CONFIG).",
)
database_url_option = click.option(
    "--database-url",
    default=None,
    help="PostgreSQL URL (default: the store `serve` uses: the config file's, else "
    "TIERGATE_DATABASE_URL, else SQLite in the data dir).",
)


def store_options(func: F) -> F:
    """``--config`` and ``--database-url``: the command gets ``config_path`` and
    ``database_url``."""
    return config_option(database_url_option(func))


def store_url(database_url: str | None, config_path: str | None = None) -> str:
    """``--database-url``, else the store ``serve --config`` uses; a config file that cannot
    be used is a CLI error that says why, not a traceback."""
    from tiergate.errors import ConfigError
    from tiergate.store.location import configured_store_url

    try:
        return configured_store_url(database_url, config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
