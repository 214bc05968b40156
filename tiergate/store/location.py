"""Where local state lives: ``TIERGATE_DATA_DIR``, else the XDG data directory."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    configured = os.environ.get("TIERGATE_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tiergate"


def configured_store_url(database_url: str | None, config_path: str | None = None) -> str:
    """The store a command-line tool reads: the one ``tiergate serve`` with the same config
    and environment writes. ``database_url`` (a flag) first, then as ``load_settings`` orders
    them: the config file's (``config_path``, else ``TIERGATE_CONFIG``) ``database_url``,
    ``TIERGATE_DATABASE_URL``, the file's ``data_dir``, ``TIERGATE_DATA_DIR``. Raises
    ``ConfigError`` for a config file that cannot be used."""
    from tiergate.config import load_settings

    settings = load_settings(config_path)
    return store_url(database_url or settings.database_url, settings.data_dir)


def store_url(database_url: str | None, data_dir: str | None) -> str:
    """The store URL from settings: PostgreSQL when a URL is given, else SQLite in the data dir."""
    if database_url:
        return database_url
    directory = Path(data_dir) if data_dir else default_data_dir()
    return f"sqlite:///{directory / 'tiergate.db'}"
