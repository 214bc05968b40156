"""Per-prompt outcomes: how well each model answered each prompt, for the learned router.

An evaluation run writes one row per item and model (``source`` ``eval``); other graders (a
judged shadow) can write the same rows with their own ``source``. ``tiergate router train
--from-log --route R`` reads a route's rows back as outcome data. A run written again (a
resumed evaluation) replaces its rows, so a prompt is never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = ["OutcomeRow", "OutcomeStore"]

_UPSERT = (
    "INSERT INTO outcomes (run_id, item_id, model, ts_ms, source, route, tenant, prompt, score, "
    "request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, item_id, model) DO "
    "UPDATE SET ts_ms = excluded.ts_ms, source = excluded.source, route = excluded.route, "
    "tenant = excluded.tenant, prompt = excluded.prompt, score = excluded.score, "
    "request_id = excluded.request_id"
)
_COLUMNS = "run_id, item_id, model, ts_ms, source, route, tenant, prompt, score, request_id"


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    run_id: str
    item_id: str
    model: str
    ts_ms: int
    source: str
    route: str | None
    tenant: str
    prompt: str
    score: float
    request_id: str | None = None


class OutcomeStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, rows: list[OutcomeRow]) -> None:
        if rows:
            await self._store.executemany([(_UPSERT, [_values(row) for row in rows])])

    async def for_route(
        self, route: str, *, since_ms: int | None = None, tenant: str | None = None
    ) -> list[OutcomeRow]:
        """The route's rows, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM outcomes WHERE route = ?"
        params: list[object] = [route]
        if since_ms is not None:
            sql += " AND ts_ms >= ?"
            params.append(since_ms)
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        rows = await self._store.fetchall(sql + " ORDER BY ts_ms, run_id, item_id, model", params)
        return [OutcomeRow(*row) for row in rows]


def _values(row: OutcomeRow) -> tuple[object, ...]:
    return (row.run_id, row.item_id, row.model, row.ts_ms, row.source, row.route, row.tenant,
            row.prompt, row.score, row.request_id)  # fmt: skip
