"""The states of a batch item (``batch_items.state``) and of a job, spelled once.

Every layer that speaks of them uses these: the wire formats (result lines, counts), the
store's reports (counts by state), the batch package (which moves items between states, and
builds its SQL from these constants). They live here, in the lowest of those layers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["STATES", "ItemState", "JobStatus", "job_status"]


class ItemState(StrEnum):
    """A batch item's state. Only ``QUEUED`` ever changes; the others are its end."""

    QUEUED = "queued"  # waiting, running, or parked for a provider's batch API
    SUCCEEDED = "succeeded"
    ERRORED = "errored"
    CANCELED = "canceled"
    EXPIRED = "expired"


STATES = tuple(ItemState)

# A job's ``processing_status`` (Anthropic's words).
JobStatus = Literal["in_progress", "canceling", "ended"]


def job_status(cancel_ms: int | None, ended_ms: int | None) -> JobStatus:
    """A job's status from its two moments."""
    if ended_ms is not None:
        return "ended"
    return "canceling" if cancel_ms is not None else "in_progress"
