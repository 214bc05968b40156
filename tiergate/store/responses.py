"""Responses API answers kept so that a follow-up can name them (``previous_response_id``).

Each row holds the whole conversation up to and including one answer (the request's items, the
earlier ones it continued included, then the answer's output items) as a JSON array. A
follow-up then costs one primary-key read however long the chain is, at the price of storing
earlier turns again in every row. Rows belong to a tenant: another tenant's id reads as absent.

Written before the answer's last byte goes out (``server/responses_endpoint.py``), so a client
that continues at once, on any replica, finds it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from tiergate.store.backend import Store

_INSERT = (
    "INSERT INTO responses (id, tenant, created_ms, model, conversation) VALUES (?, ?, ?, ?, ?)"
)
_SELECT = "SELECT conversation FROM responses WHERE id = ? AND tenant = ?"


class StoredResponses:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, response_id: str, tenant: str, model: str, items: list[Any]) -> None:
        conversation = orjson.dumps(items).decode()
        now = int(time.time() * 1000)
        await self._store.execute(_INSERT, (response_id, tenant, now, model, conversation))

    async def conversation(self, response_id: str, tenant: str) -> list[Any] | None:
        """The stored items, or None when this tenant has no such response."""
        rows = await self._store.fetchall(_SELECT, (response_id, tenant))
        if not rows:
            return None
        items = orjson.loads(rows[0][0])
        return items if isinstance(items, list) else None
