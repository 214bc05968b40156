"""The gateway's cost as fields of a stream's final usage event.

Headers go out before a stream's first byte, when its cost is not known yet, so a streamed
answer carries its cost in the final usage object instead: ``cost`` (USD as a JSON number,
null when the model is unpriced) and ``cost_estimated: true`` when some usage was estimated.
Extra fields in ``usage`` are ignored by the official SDKs (their models allow unknown
fields) and readable by any client that looks (``usage.model_extra`` in Python).
"""

from __future__ import annotations

from typing import Any

from tiergate.types import StreamCost


def cost_fields(cost: StreamCost) -> dict[str, Any]:
    fields: dict[str, Any] = {"cost": None if cost.usd is None else float(cost.usd)}
    if cost.estimated:
        fields["cost_estimated"] = True
    return fields
