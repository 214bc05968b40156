"""Assembles the ASGI app from settings (the gateway itself is built in ``gateway/factory.py``)."""

from __future__ import annotations

from tiergate.config import Settings, load_settings
from tiergate.errors import ConfigError
from tiergate.gateway.factory import prepare
from tiergate.server.app import App


def create_app(settings: Settings | None = None) -> App:
    """Used by ``tiergate serve`` and by uvicorn's ``--factory`` for multi-worker runs
    (settings then come from ``TIERGATE_CONFIG`` and the environment). The config is checked
    here, before a server starts; the gateway is built, and its store opened, at start-up."""
    settings = settings or load_settings()
    try:
        prepared = prepare(settings)
    except ConfigError as exc:  # found while building: name the line it comes from
        raise settings.locate(exc) from None
    return App(prepared)
