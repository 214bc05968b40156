"""tiergate: an LLM gateway that routes each request to the cheapest model that does it well.

From Python: ``tiergate.Client(base_url)`` talks to a running gateway, ``tiergate.serve(config)``
starts one in this process (``client.py``; ``docs/recipes.md``). Both load lazily, so importing
``tiergate`` (as every submodule does) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Answer", "Client", "GatewayHTTPError", "serve"]

if TYPE_CHECKING:
    from tiergate.client import Answer, Client, GatewayHTTPError, serve


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tiergate import client

        return getattr(client, name)
    raise AttributeError(f"module 'tiergate' has no attribute {name!r}")
