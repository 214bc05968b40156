"""What the CLI tools that read the store share: its ``--database-url`` option, and finding
the store ``tiergate serve`` writes (``store.location.configured_store_url``)."""

from __future__ import annotations

import click

database_url_option = click.option(
    "--database-url",
    default=None,
    help="PostgreSQL URL (default: the store `serve` uses: the config file's, else "
    "TIERGATE_DATABASE_URL, else SQLite in the data dir).",
)


def store_url(database_url: str | None) -> str:
    """``--database-url``, else the store ``serve`` uses; a config file that cannot be used is
    a CLI error that says why, not a traceback."""
    from tiergate.errors import ConfigError
    from tiergate.store.location import configured_store_url

    try:
        return configured_store_url(database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
