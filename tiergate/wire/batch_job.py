"""What both formats' batch objects show of a stored job (``tiergate.batch.Job``), as a
protocol: the wire layer describes jobs without depending on the batch package above it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["BatchJob", "rfc3339"]


class BatchJob(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def expires_ms(self) -> int: ...
    @property
    def ended_ms(self) -> int | None: ...
    @property
    def cancel_ms(self) -> int | None: ...
    @property
    def total(self) -> int: ...
    @property
    def input_file_id(self) -> str | None: ...
    @property
    def metadata(self) -> str | None: ...


def rfc3339(ms: int | None) -> str | None:
    """Anthropic's timestamps: RFC 3339 in UTC, ``Z``-suffixed."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
