"""Per-prompt outcomes: how well each model answered each prompt, for the learned router.

An evaluation run writes one row per item and model (``source`` ``eval``). Judged pairs
(``judgments``: a judged shadow, a guarded rollout's sample) are read as outcome rows too,
one per side, where the served request's prompt was logged (``log.bodies``): a rubric
judgment scores each answer by its pass, a pairwise one the candidate by its verdict (win 1,
tie 0.5, loss 0) and the served model by the rest. ``tiergate router train --from-log
--route R`` reads both back as outcome data. A run written again (a resumed evaluation)
replaces its rows, so a prompt is never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = ["OutcomeRow", "OutcomeStore", "judged_rows"]

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


_JUDGED = (
    "SELECT j.kind, j.request_id, j.ts_ms, j.tenant, j.route, r.prompt, j.served_model, "
    "j.candidate_model, j.verdict, j.served_pass, j.candidate_pass FROM judgments j "
    "JOIN requests r ON r.id = j.request_id "
    "WHERE j.route = ? AND j.verdict IS NOT NULL AND r.prompt IS NOT NULL"
)
_PREFERENCE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


async def judged_rows(
    store: Store, route: str, *, since_ms: int | None = None, tenant: str | None = None
) -> list[OutcomeRow]:
    """A route's judged pairs as outcome rows (two per pair), oldest first."""
    sql, params = _JUDGED, list[object]([route])
    for clause, value in ((" AND j.ts_ms >= ?", since_ms), (" AND j.tenant = ?", tenant)):
        if value is not None:
            sql += clause
            params.append(value)
    rows = await store.fetchall(sql + " ORDER BY j.ts_ms, j.request_id", params)
    out: list[OutcomeRow] = []
    for kind, request_id, ts_ms, who, where, prompt, served, candidate, verdict, *passes in rows:
        served_pass, candidate_pass = passes
        if served_pass is not None and candidate_pass is not None:
            scores = (float(bool(served_pass)), float(bool(candidate_pass)))
        else:
            preference = _PREFERENCE.get(verdict)
            if preference is None:
                continue
            scores = (1.0 - preference, preference)
        run = f"judged-{kind}"
        for model, score in zip((served, candidate), scores, strict=True):
            out.append(
                OutcomeRow(
                    run_id=run,
                    item_id=request_id,
                    model=model,
                    ts_ms=int(ts_ms),
                    source=str(kind),
                    route=where,
                    tenant=who,
                    prompt=prompt,
                    score=score,
                    request_id=request_id,
                )
            )
    return out


def _values(row: OutcomeRow) -> tuple[object, ...]:
    return (
        row.run_id,
        row.item_id,
        row.model,
        row.ts_ms,
        row.source,
        row.route,
        row.tenant,
        row.prompt,
        row.score,
        row.request_id,
    )
