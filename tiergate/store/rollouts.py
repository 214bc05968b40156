"""A managed rollout's state and events, shared by every replica through the store.

One ``rollouts`` row per route: the candidate, its share (``percent``), the ramp step, the
state (``ramping``, ``paused``, ``rolled_back``), when the current step began (``since_ms``)
and when the guard's measurements began (``epoch_ms``: the start or the last resume, so
failures before a resume do not count after it).

Every change is a compare-and-set on ``version`` and writes its event in the same
transaction: the update names a token only this attempt knows (``changed_by``), and the event
is inserted from the row only if the row carries that token at the new version. Two replicas
deciding the same step both try; one update matches the version, the other changes nothing
and inserts no event (and ``(route, version)`` is unique in ``rollout_events`` besides).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tiergate.store.backend import Store, now_ms
from tiergate.store.judgments import COUNTS, summarise

RAMPING, PAUSED, ROLLED_BACK = "ramping", "paused", "rolled_back"
_ROW = "route, model, percent, step, state, since_ms, epoch_ms, version, changed_by, updated_ms"


@dataclass(frozen=True, slots=True)
class RolloutRow:
    route: str
    model: str
    percent: float
    step: int
    state: str
    since_ms: int
    epoch_ms: int
    version: int
    changed_by: str
    updated_ms: int

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> RolloutRow:
        route, model, percent, step, state, since, epoch, version, by, updated = row
        return cls(
            route=str(route),
            model=str(model),
            percent=float(percent),
            step=int(step),
            state=str(state),
            since_ms=int(since),
            epoch_ms=int(epoch),
            version=int(version),
            changed_by=str(by),
            updated_ms=int(updated),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """What a change sets, and the event it is logged as."""

    kind: str  # start, step, rollback, pause, resume
    percent: float
    step: int
    state: str
    reason: str
    new_epoch: bool = False  # the guard starts measuring afresh (start, resume)


async def load(store: Store, route: str | None = None) -> list[RolloutRow]:
    where, params = ("WHERE route = ?", [route]) if route else ("", [])
    rows = await store.fetchall(f"SELECT {_ROW} FROM rollouts {where} ORDER BY route", params)
    return [RolloutRow.of(r) for r in rows]


def _event(
    route: str, token: str, version: int, change: Change, replica: str, from_percent: float
) -> tuple[str, list[Any]]:
    """The event insert, made only if the row now carries this attempt's token."""
    return (
        "INSERT INTO rollout_events "
        "(id, route, ts_ms, version, kind, model, from_percent, to_percent, reason, replica) "
        "SELECT ?, route, ?, version, ?, model, ?, percent, ?, ? FROM rollouts "
        "WHERE route = ? AND version = ? AND changed_by = ? RETURNING id",
        [
            "rev_" + secrets.token_hex(8),
            now_ms(),
            change.kind,
            from_percent,
            change.reason,
            replica,
            route,
            version,
            token,
        ],
    )


async def start(store: Store, route: str, model: str, change: Change, replica: str) -> bool:
    """Create the route's row unless one exists; returns whether this call created it."""
    token, now = secrets.token_hex(8), now_ms()
    insert = (
        f"INSERT INTO rollouts ({_ROW}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
        "ON CONFLICT (route) DO NOTHING",
        [route, model, change.percent, change.step, change.state, now, now, token, now],
    )
    event = _event(route, token, 1, change, replica, 0.0)
    results = await store.transaction([insert, event])
    return bool(results[1])


async def apply(
    store: Store, row: RolloutRow, change: Change, replica: str, model: str | None = None
) -> bool:
    """Move ``row`` (as read) to ``change``; False when another replica changed it first."""
    token, now = secrets.token_hex(8), now_ms()
    epoch = now if change.new_epoch else row.epoch_ms
    update = (
        "UPDATE rollouts SET model = ?, percent = ?, step = ?, state = ?, since_ms = ?, "
        "epoch_ms = ?, version = version + 1, changed_by = ?, updated_ms = ? "
        "WHERE route = ? AND version = ?",
        [
            model or row.model,
            change.percent,
            change.step,
            change.state,
            now,
            epoch,
            token,
            now,
            row.route,
            row.version,
        ],
    )
    event = _event(row.route, token, row.version + 1, change, replica, row.percent)
    results = await store.transaction([update, event])
    return bool(results[1])


async def events(store: Store, route: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest events first."""
    where, params = ("WHERE route = ?", [route]) if route else ("", [])
    rows = await store.fetchall(
        "SELECT ts_ms, route, version, kind, model, from_percent, to_percent, reason, replica "
        f"FROM rollout_events {where} ORDER BY ts_ms DESC, version DESC LIMIT {int(limit)}",
        params,
    )
    keys = (
        "ts_ms",
        "route",
        "version",
        "kind",
        "model",
        "from_percent",
        "to_percent",
        "reason",
        "replica",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


@dataclass(frozen=True, slots=True)
class GuardStats:
    """The candidate's own traffic on the route since ``since_ms``."""

    attempts: int = 0  # upstream calls to the candidate
    errors: int = 0  # of them, failed
    answered: int = 0  # requests the candidate answered
    refusals: int = 0
    judged: int = 0  # judged pairs of its answers
    quality: float | None = None
    route_requests: int = 0  # every request of the route since the current step began


async def guard_stats(
    store: Store, route: str, model: str, since_ms: int, step_since_ms: int
) -> GuardStats:
    ((attempts, errors),) = await store.fetchall(
        "SELECT count(*), sum(CASE WHEN a.outcome = 'provider_error' THEN 1 ELSE 0 END) "
        "FROM attempts a JOIN requests r ON r.id = a.request_id "
        "WHERE r.route = ? AND r.ts_ms >= ? AND a.model = ? AND a.outcome <> 'judge'",
        [route, since_ms, model],
    )
    ((answered, refusals),) = await store.fetchall(
        "SELECT count(*), sum(CASE WHEN refusal THEN 1 ELSE 0 END) FROM requests "
        "WHERE route = ? AND ts_ms >= ? AND model = ?",
        [route, since_ms, model],
    )
    ((route_requests,),) = await store.fetchall(
        "SELECT count(*) FROM requests WHERE route = ? AND ts_ms >= ?", [route, step_since_ms]
    )
    rows = await store.fetchall(
        f"SELECT mode, {', '.join(COUNTS)} FROM judgments WHERE kind = 'rollout' "
        "AND route = ? AND candidate_model = ? AND ts_ms >= ? GROUP BY mode",
        [route, model, since_ms],
    )
    judged, quality = 0, None
    if rows:  # one judge per guard: one mode
        summary = summarise({"mode": rows[0][0]}, rows[0][1:])
        judged, quality = int(summary["judged"]), summary["quality"]
    return GuardStats(
        attempts=int(attempts or 0),
        errors=int(errors or 0),
        answered=int(answered or 0),
        refusals=int(refusals or 0),
        judged=judged,
        quality=quality,
        route_requests=int(route_requests or 0),
    )
