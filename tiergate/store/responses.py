"""Responses API answers kept so that a follow-up can name them (``previous_response_id``).

Each row holds the whole conversation up to and including one answer (the request's items, the
earlier ones it continued included, then the answer's output items) as a JSON array. A
follow-up then costs one primary-key read however long the chain is, at the price of storing
earlier turns again in every row. Rows belong to a tenant: another tenant's id reads as absent.

Written before the answer's last byte goes out (``server/responses_endpoint.py``), so a client
that continues at once, on any replica, finds it.

Rows are kept ``responses.keep_days`` (30). A row past that reads as absent at once, whether or
not it has been deleted yet, so a follow-up gets the same answer as for an unknown id; the
deleting is housekeeping (``prune_due``, on the store holder's tick): at most
``rows_per_pass`` of the oldest rows per pass, a pass every ``every_seconds``, or at the next
tick while a backlog remains, so a first prune of months of rows never holds the database in
one long statement.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.store.backend import now_ms

if TYPE_CHECKING:
    from tiergate.store.backend import Store

_INSERT = (
    "INSERT INTO responses (id, tenant, created_ms, model, conversation) VALUES (?, ?, ?, ?, ?)"
)
_SELECT = "SELECT conversation FROM responses WHERE id = ? AND tenant = ? AND created_ms >= ?"
# The oldest expired rows, a bounded number: ``created_ms`` is indexed (0019).
_PRUNE = (
    "DELETE FROM responses WHERE id IN "
    "(SELECT id FROM responses WHERE created_ms < ? ORDER BY created_ms LIMIT ?)"
)


class StoredResponses:
    def __init__(
        self,
        store: Store,
        *,
        keep_ms: int,
        rows_per_pass: int = 1000,
        every_seconds: float = 600.0,
    ) -> None:
        self._store = store
        self._keep_ms = keep_ms
        self._rows_per_pass = rows_per_pass
        self._every = every_seconds
        self._pruned_at = float("-inf")  # monotonic time of the last pass
        self._backlog = False  # the last pass was full: more expired rows are waiting

    async def save(self, response_id: str, tenant: str, model: str, items: list[Any]) -> None:
        conversation = orjson.dumps(items).decode()
        await self._store.execute(_INSERT, (response_id, tenant, now_ms(), model, conversation))

    async def conversation(self, response_id: str, tenant: str) -> list[Any] | None:
        """The stored items, or None when this tenant has no such response, or had one that
        is past ``keep_ms`` (deleted or not yet)."""
        rows = await self._store.fetchall(_SELECT, (response_id, tenant, self._expiry()))
        if not rows:
            return None
        items = orjson.loads(rows[0][0])
        return items if isinstance(items, list) else None

    async def prune(self) -> int:
        """Delete at most ``rows_per_pass`` of the oldest expired rows; returns how many."""
        deleted = await self._store.execute(_PRUNE, (self._expiry(), self._rows_per_pass))
        self._pruned_at = time.monotonic()
        self._backlog = deleted >= self._rows_per_pass
        return deleted

    async def prune_due(self) -> None:
        """One pass, if ``every_seconds`` have gone by since the last or a backlog remains."""
        if self._backlog or time.monotonic() - self._pruned_at >= self._every:
            await self.prune()

    def _expiry(self) -> int:
        """Rows created before this (epoch ms) are past keeping."""
        return now_ms() - self._keep_ms
