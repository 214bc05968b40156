"""Who is calling: the principal a request runs as.

With no virtual keys configured the gateway runs open (bound to loopback by default) and every
caller is the ``default`` tenant with no limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tiergate.errors import PermissionDenied
from tiergate.routing.plan import Plan
from tiergate.types import ChatRequest


@dataclass(slots=True)
class Principal:
    tenant: str = "default"
    key_id: str | None = None
    allowed_models: frozenset[str] = field(default_factory=frozenset)

    def check_model(self, model: str) -> None:
        if self.allowed_models and model not in self.allowed_models:
            raise PermissionDenied(
                f"this key may not use model {model!r}; allowed: "
                f"{', '.join(sorted(self.allowed_models))}",
                param="model",
            )

    async def reserve(self, request: ChatRequest, plan: Plan) -> None:
        """Budget and rate checks before the upstream call (nothing to check when open)."""
        return None


OPEN = Principal()
