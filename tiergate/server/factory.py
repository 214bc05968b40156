"""Assembles the ASGI app from settings: the one place parts are wired together."""

from __future__ import annotations

from tiergate.config import Settings, load_settings
from tiergate.errors import ConfigError
from tiergate.server.app import App
from tiergate.server.gateway import build_gateway


def create_app(settings: Settings | None = None) -> App:
    """Used by ``tiergate serve`` and by uvicorn's ``--factory`` for multi-worker runs
    (settings then come from ``TIERGATE_CONFIG`` and the environment)."""
    settings = settings or load_settings()
    try:
        gateway = build_gateway(settings)
    except ConfigError as exc:  # found while building: name the line it comes from
        raise settings.locate(exc) from None
    return App(gateway)
