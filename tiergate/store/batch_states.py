"""The states a batch item's row can hold (``batch_items.state``, migration ``0007_batches``).

Named here, in the store that owns the table, so that both the batch package (which moves items
between them) and the store's reports (which count them) spell them once.
"""

from __future__ import annotations

__all__ = ["CANCELED", "ERRORED", "EXPIRED", "QUEUED", "STATES", "SUCCEEDED", "job_status"]

QUEUED, SUCCEEDED, ERRORED, CANCELED, EXPIRED = (
    "queued", "succeeded", "errored", "canceled", "expired",
)  # fmt: skip
STATES = (QUEUED, SUCCEEDED, ERRORED, CANCELED, EXPIRED)


def job_status(cancel_ms: int | None, ended_ms: int | None) -> str:
    """A job's ``processing_status`` (Anthropic's words): in_progress, canceling or ended."""
    if ended_ms is not None:
        return "ended"
    return "canceling" if cancel_ms is not None else "in_progress"
