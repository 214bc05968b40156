"""tiergate: an LLM gateway that routes each request to the cheapest model that does it well.

From Python: ``tiergate.Client(base_url)`` talks to a running gateway, ``tiergate.serve(config)``
starts one in this process (``client.py``; ``docs/recipes.md``). Both load lazily, so importing
``tiergate`` (as every submodule does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Answer", "Client", "GatewayHTTPError", "serve"]


def __getattr__(name: str) -> Any:
    """``tiergate.Client`` and friends, imported on first use. Not a static import: every
    module imports this package (``__version__``), and the layer contracts
    (``pyproject.toml``) must not see the lower layers reach ``server/`` through it."""
    if name in __all__:
        return getattr(importlib.import_module("tiergate.client"), name)
    raise AttributeError(f"module 'tiergate' has no attribute {name!r}")
