"""Report queries over the request log, shared by ``tiergate report``, the dashboard and tests.

Everything aggregates in SQL (indexes on time, tenant+time, route+time, model+time), so a
report over a million rows moves a few hundred rows out of the database, not a million.
Money sums are exact: each pico-dollar column is summed as two integers, its whole
micro-dollars and its remainder (``x / 10**6`` and ``x % 10**6``), so neither sum can
overflow SQLite's 64-bit integers, and they are recombined as a ``Decimal``. Results are
plain dicts of str / int / float / None a dashboard can JSON-encode; money is given as a float
(``cost_usd``) and, in ``totals``, also as an exact decimal string (``exact``).

Every query takes one ``ReportFilter``; tenant isolation is the caller's job: a caller with a
tenant-scoped key always sets ``tenant`` (the server does, through ``Principal``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.latency import NO_PERCENTILES, percentiles_by_model
from tiergate.store.records import PICO
from tiergate.wire.batch_states import STATES, job_status

_MICRO = 1_000_000
_MONEY = (
    "cost_pusd",
    # The baseline of priced requests only: an unpriced one's cost is not in the spend, so its
    # baseline in the sum would show as money saved ("savings" = baseline - spend).
    "CASE WHEN cost_pusd IS NOT NULL THEN baseline_pusd END",
    "cache_savings_pusd",
    "credits_p",
    # The spend of the rows that have a baseline: savings compare these two sums only, so rows
    # without a baseline (none configured) never show as negative savings.
    "CASE WHEN baseline_pusd IS NOT NULL THEN cost_pusd END",
    # The part of the spend whose usage was estimated (tiergate/cost/estimate.py).
    "CASE WHEN cost_estimated THEN cost_pusd END",
)
_COUNTS = 13
_WIDTH = 1 + 2 * len(_MONEY) + _COUNTS  # the columns _AGGREGATES yields


@dataclass(frozen=True, slots=True)
class ReportFilter:
    since_ms: int | None = None
    until_ms: int | None = None
    tenant: str | None = None
    route: str | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> ReportFilter:
        """From ``since``/``until`` (ISO date or datetime, or a span like ``7d``; a bare
        ``until`` date includes that whole day), ``tenant`` and ``route``."""
        return cls(
            _parse_time(query.get("since")),
            _parse_time(query.get("until"), end_of_day=True),
            query.get("tenant") or None,
            query.get("route") or None,
        )

    def where(
        self, alias: str = "", *, time: str = "ts_ms", by_route: bool = True
    ) -> tuple[str, list[Any]]:
        """The filter as SQL over a table (``alias``) whose time column is ``time``; tables
        with no route (batch jobs) leave the route out."""
        prefix = f"{alias}." if alias else ""
        clauses, params = ["1=1"], []
        for clause, value in (
            (f"{prefix}{time} >= ?", self.since_ms),
            (f"{prefix}{time} < ?", self.until_ms),
            (f"{prefix}tenant = ?", self.tenant),
            (f"{prefix}route = ?", self.route if by_route else None),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params


_LONGEST_SPAN = 36_500 * 86_400  # seconds; longer would overflow the database's integers


def _parse_time(value: str | None, end_of_day: bool = False) -> int | None:
    if not value:
        return None
    if value[-1] in "dhm" and value[:-1].isdigit():
        seconds = int(value[:-1]) * {"d": 86400, "h": 3600, "m": 60}[value[-1]]
        if seconds > _LONGEST_SPAN:
            raise ValueError(f"a span of at most 100 years (36500d): {value!r}")
        return int((time.time() - seconds) * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date, datetime or span like 7d: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    millis = int(moment.timestamp() * 1000)
    if end_of_day and len(value) == 10:
        millis += 86_400_000
    return millis


_AGGREGATES = ", ".join(
    [
        "count(*)",
        *(f"sum(({c}) / {_MICRO}), sum(({c}) % {_MICRO})" for c in _MONEY),
        "sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END)",
        # Escalated: answered by a later rung than the plan's first. Not ``attempts > 1``, which
        # also counts retries, fail-overs and a judge's calls on the first rung.
        "sum(CASE WHEN tier > 0 THEN 1 ELSE 0 END)",
        "sum(CASE WHEN refusal THEN 1 ELSE 0 END)",
        "sum(CASE WHEN tool_calls > 0 THEN 1 ELSE 0 END)",
        "sum(CASE WHEN tool_args_valid = FALSE THEN 1 ELSE 0 END)",
        "sum(input_tokens)",
        "sum(output_tokens)",
        "sum(cache_read_tokens)",
        "sum(cache_creation_tokens)",
        "sum(CASE WHEN cost_pusd IS NULL AND status < 400 THEN 1 ELSE 0 END)",
        "sum(CASE WHEN cost_pusd IS NOT NULL AND baseline_pusd IS NOT NULL THEN 1 ELSE 0 END)",
        "sum(CASE WHEN cost_estimated THEN 1 ELSE 0 END)",
        "sum(CASE WHEN cost_pusd IS NOT NULL THEN 1 ELSE 0 END)",
    ]
)


def _money(micro: Any, rest: Any) -> Decimal:
    """Recombine the two partial sums into exact USD."""
    total = int(micro or 0) * _MICRO + int(rest or 0)
    return (Decimal(total) / PICO).normalize() if total else Decimal(0)


def _row(values: tuple[Any, ...], exact: bool = False) -> dict[str, Any]:
    n = int(values[0] or 0)
    cost, baseline, cache, credits, compared, estimated_cost = (
        _money(values[1 + 2 * i], values[2 + 2 * i]) for i in range(len(_MONEY))
    )
    (
        errors,
        escalated,
        refusals,
        with_tools,
        bad_tools,
        tokens_in,
        tokens_out,
        cache_read,
        cache_write,
        unpriced,
        baselined,
        estimated,
        priced,
    ) = (int(v or 0) for v in values[1 + 2 * len(_MONEY) :])
    prompt_tokens = tokens_in + cache_read + cache_write
    row: dict[str, Any] = {
        "requests": n,
        # The spend of priced requests; ``unpriced_requests`` are left out of it (never as $0)
        # and ``estimated_cost_usd`` of it rests on estimated usage.
        "cost_usd": float(cost),
        # None without any baselined request: "no baseline", not a saving of minus the spend.
        "baseline_usd": float(baseline) if baselined else None,
        "savings_usd": float(baseline - compared) if baselined else None,
        "baselined_requests": baselined,
        "cache_savings_usd": float(cache),
        "credits": float(credits),
        "cost_per_request_usd": float(cost / priced) if priced > 0 else 0.0,
        "priced_requests": priced,
        "unpriced_requests": unpriced,
        "estimated_requests": estimated,
        "estimated_cost_usd": float(estimated_cost),
        "error_rate": errors / n if n else 0.0,
        "escalation_rate": escalated / n if n else 0.0,
        "refusal_rate": refusals / n if n else 0.0,
        "tool_calls_requests": with_tools,
        "tool_failure_rate": bad_tools / with_tools if with_tools else 0.0,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_hit_rate": cache_read / prompt_tokens if prompt_tokens else 0.0,
    }
    if exact:
        row["exact"] = {
            "cost_usd": str(cost),
            "baseline_usd": str(baseline) if baselined else None,
            "savings_usd": str(baseline - compared) if baselined else None,
            "cache_savings_usd": str(cache),
            "credits": str(credits),
            "estimated_cost_usd": str(estimated_cost),
        }
    return row


def _day_expr(store: Store) -> str:
    if store.dialect == "sqlite":
        return "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')"
    return "to_char(to_timestamp(ts_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


async def grouped(
    store: Store, keys: dict[str, str], filters: ReportFilter
) -> list[dict[str, Any]]:
    """Aggregates per group; ``keys`` maps output names to SQL expressions (or ``day``)."""
    where, params = filters.where()
    exprs = [_day_expr(store) if expr == "day" else expr for expr in keys.values()]
    select = ", ".join(exprs)
    # NULL groups (no route, no model) last on both databases: SQLite sorts NULL first.
    order = ", ".join(f"({expr}) IS NULL, {i + 1}" for i, expr in enumerate(exprs))
    rows = await store.scan(
        f"SELECT {select}, {_AGGREGATES} FROM requests WHERE {where} "
        f"GROUP BY {select} ORDER BY {order}",
        params,
    )
    width = len(exprs)
    return [{**dict(zip(keys, r[:width], strict=True)), **_row(r[width:])} for r in rows]


async def totals(store: Store, filters: ReportFilter) -> dict[str, Any]:
    where, params = filters.where()
    rows = await store.scan(f"SELECT {_AGGREGATES} FROM requests WHERE {where}", params)
    return _row(rows[0], exact=True)


async def by_model(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """Per answering model: spend, savings, rates, and latency / TTFT percentiles."""
    rows = await grouped(store, {"model": "model"}, filters)
    await _add_latency(store, filters, rows)
    return rows


async def _add_latency(store: Store, filters: ReportFilter, rows: list[dict[str, Any]]) -> None:
    """Each model row's percentiles; ``None`` where it has no timed rows (only batch work)."""
    where, params = filters.where()
    latency = await percentiles_by_model(store, where, params)
    for row in rows:
        row.update(latency.get(row["model"], NO_PERCENTILES))


async def tiers(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """Per route, ladder tier, model and role: attempts, how many failed validation
    (escalated), provider errors and cost; from the attempt rows. ``role`` tells the calls
    that answered (``answer``) from a judge's calls grading them (``judge``)."""
    where, params = filters.where("r")
    rows = await store.scan(
        "SELECT r.route, a.tier, a.model, "
        "CASE WHEN a.outcome = 'judge' THEN 'judge' ELSE 'answer' END, count(*), "
        "sum(CASE WHEN a.outcome = 'validator_failed' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN a.outcome = 'provider_error' THEN 1 ELSE 0 END), "
        f"sum(a.cost_pusd / {_MICRO}), sum(a.cost_pusd % {_MICRO}) "
        f"FROM attempts a JOIN requests r ON r.id = a.request_id WHERE {where} "
        # Requests without a route (a model named directly) last on both databases: SQLite
        # sorts NULL first, PostgreSQL last.
        "GROUP BY 1, 2, 3, 4 ORDER BY r.route IS NULL, 1, 2, 4, 3",
        params,
    )
    return [
        {
            "route": route,
            "tier": tier,
            "model": model,
            "role": role,
            "attempts": int(n),
            "escalated": int(failed or 0),
            "escalation_rate": int(failed or 0) / int(n),
            "provider_errors": int(errors or 0),
            "cost_usd": float(_money(micro, rest)),
        }
        for route, tier, model, role, n, failed, errors, micro, rest in rows
    ]


_DIMENSIONS = {
    "by_day": ("day",),
    "by_model": ("model",),
    "by_tenant": ("tenant",),
    "by_route": ("route",),
    "by_route_model": ("route", "model"),
}


async def breakdowns(store: Store, filters: ReportFilter) -> dict[str, Any]:
    """Totals and every breakdown from one scan: the rows are grouped once by (day, tenant,
    route, model) in SQL, and those few groups are summed up in Python (integer sums, so the
    roll-up stays exact). One sort of the matching rows instead of six."""
    where, params = filters.where()
    rows = await store.scan(
        f"SELECT {_day_expr(store)}, tenant, route, model, {_AGGREGATES} FROM requests "
        f"WHERE {where} GROUP BY 1, 2, 3, 4",
        params,
    )
    names = ("day", "tenant", "route", "model")
    sums: dict[str, dict[tuple[Any, ...], list[int]]] = {part: {} for part in _DIMENSIONS}
    total = [0] * _WIDTH
    for row in rows:
        keys = dict(zip(names, row[:4], strict=True))
        values = [int(v or 0) for v in row[4:]]
        total = [a + b for a, b in zip(total, values, strict=True)]
        for part, dims in _DIMENSIONS.items():
            key = tuple(keys[d] for d in dims)
            held = sums[part].get(key)
            sums[part][key] = (
                values if held is None else [a + b for a, b in zip(held, values, strict=True)]
            )
    out: dict[str, Any] = {"totals": _row(tuple(total), exact=True)}
    for part, dims in _DIMENSIONS.items():
        ordered = sorted(sums[part].items(), key=lambda kv: [(k is None, k or "") for k in kv[0]])
        out[part] = [{**dict(zip(dims, key, strict=True)), **_row(tuple(v))} for key, v in ordered]
    return out


async def shadows(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """Shadow traffic per route, served model and candidate: how many requests were shadowed,
    how often the candidate failed or agreed with the served answer, and, over the requests it
    answered, what the candidate cost against what the served model cost for the same
    requests (``cost_ratio`` < 1: moving the route would save). ``spend_usd`` is all that
    shadowing cost, failed calls included."""
    where, params = filters.where("s")
    ok = "s.status < 400"
    rows = await store.scan(
        "SELECT s.route, s.served_model, s.model, count(*), "
        f"sum(CASE WHEN {ok} THEN 0 ELSE 1 END), "
        "sum(CASE WHEN s.agrees IS NOT NULL THEN 1 ELSE 0 END), "
        "sum(CASE WHEN s.agrees THEN 1 ELSE 0 END), "
        f"sum(s.cost_pusd / {_MICRO}), sum(s.cost_pusd % {_MICRO}), "
        f"sum(CASE WHEN {ok} THEN s.cost_pusd / {_MICRO} END), "
        f"sum(CASE WHEN {ok} THEN s.cost_pusd % {_MICRO} END), "
        f"sum(CASE WHEN {ok} THEN r.cost_pusd / {_MICRO} END), "
        f"sum(CASE WHEN {ok} THEN r.cost_pusd % {_MICRO} END) "
        f"FROM shadows s LEFT JOIN requests r ON r.id = s.shadow_of WHERE {where} "
        "GROUP BY 1, 2, 3 ORDER BY s.route IS NULL, 1, s.served_model IS NULL, 2, 3",
        params,
    )
    out = []
    for route, served, model, n, errors, compared, agreed, *money in rows:
        spend, candidate, served_cost = (
            _money(money[i], money[i + 1]) for i in range(0, len(money), 2)
        )
        n, errors, compared, agreed = (int(v or 0) for v in (n, errors, compared, agreed))
        out.append(
            {
                "route": route,
                "served_model": served,
                "model": model,
                "shadows": n,
                "error_rate": errors / n,
                "compared": compared,
                "agreement_rate": agreed / compared if compared else None,
                "spend_usd": float(spend),
                "candidate_cost_usd": float(candidate),
                "served_cost_usd": float(served_cost),
                "cost_ratio": float(candidate / served_cost) if served_cost else None,
            }
        )
    return out


_RECENT_BATCHES = 50


async def batches(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """The newest batch jobs created in the window (at most 50; tenant-scoped like the rest):
    progress by item state, and what the runs whose answers were kept cost (from their
    request-log rows; a failed run that was tried again is in the spend, not here)."""
    where, params = filters.where("b", time="created_ms", by_route=False)
    states = ", ".join(f"sum(CASE WHEN i.state = '{state}' THEN 1 ELSE 0 END)" for state in STATES)
    rows = await store.scan(
        f"SELECT b.id, b.tenant, b.client_format, b.created_ms, b.cancel_ms, b.ended_ms, "
        f"b.total, {states}, sum(r.cost_pusd / {_MICRO}), sum(r.cost_pusd % {_MICRO}) "
        "FROM batches b JOIN batch_items i ON i.batch_id = b.id "
        "LEFT JOIN requests r ON r.id = i.request_id "
        f"WHERE {where} "
        "GROUP BY b.id, b.tenant, b.client_format, b.created_ms, b.cancel_ms, b.ended_ms, "
        f"b.total ORDER BY b.id DESC LIMIT {_RECENT_BATCHES}",
        params,
    )
    out = []
    for job_id, tenant, client_format, created, cancel, ended, total, *rest in rows:
        counts = {state.value: int(n or 0) for state, n in zip(STATES, rest[:5], strict=True)}
        out.append(
            {
                "id": job_id,
                "tenant": tenant,
                "format": client_format,
                "created": datetime.fromtimestamp(int(created) / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "status": job_status(cancel, ended),
                "requests": int(total),
                **counts,
                "cost_usd": float(_money(rest[5], rest[6])),
            }
        )
    return out


# Evaluation runs (``tiergate eval run``) tag their rows ``batch_id = 'eval_<run id>'``.
_EVALUATION = "batch_id LIKE 'eval\\_%' ESCAPE '\\'"


async def evaluations(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """Evaluation traffic per run and answering model. It is in the spend and mix like any
    request (it was paid for) and out of latency figures (as batch work); here it is told
    apart, so a team sees what its evaluations cost."""
    where, params = filters.where()
    rows = await store.fetchall(
        f"SELECT batch_id, model, min(ts_ms), max(ts_ms), {_AGGREGATES} FROM requests "
        f"WHERE {where} AND {_EVALUATION} GROUP BY batch_id, model "
        "ORDER BY batch_id, model IS NULL, model",
        params,
    )
    out = []
    for run, model, first, last, *aggregates in rows:
        row = _row(tuple(aggregates))
        out.append(
            {
                "run": str(run).removeprefix("eval_"),
                "model": model,
                "first": datetime.fromtimestamp(int(first) / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "last": datetime.fromtimestamp(int(last) / 1000, UTC).isoformat(timespec="seconds"),
                **{
                    key: row[key]
                    for key in (
                        "requests",
                        "cost_usd",
                        "error_rate",
                        "input_tokens",
                        "output_tokens",
                    )
                },
            }
        )
    newest: dict[str, str] = {}
    for row in out:
        newest[row["run"]] = max(newest.get(row["run"], ""), row["last"])
    return sorted(out, key=lambda row: newest[row["run"]], reverse=True)  # newest run first


async def summary(store: Store, filters: ReportFilter) -> dict[str, Any]:
    """Everything the dashboard and ``tiergate report --json`` show, for one filter."""
    parts = await breakdowns(store, filters)
    await _add_latency(store, filters, parts["by_model"])
    return {
        "filters": asdict(filters),
        **parts,
        "tiers": await tiers(store, filters),
        "shadows": await shadows(store, filters),
        "judged": await judged_pairs(store, filters),
        "rollouts": await rollouts(store, filters),
        "batches": await batches(store, filters),
        "evaluations": await evaluations(store, filters),
    }


async def judged_pairs(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """Judged quality of each candidate against the model that served (``store/judgments``):
    judged shadow and guarded rollouts' samples, with 95% intervals."""
    from tiergate.store.judgments import judged

    where, params = filters.where()
    return await judged(store, where, params)


async def rollouts(store: Store, filters: ReportFilter) -> list[dict[str, Any]]:
    """Managed rollouts (on ``route`` if the filter names one): state and the latest events.
    Operator-wide, so not shown to a tenant-scoped report (their figures span tenants)."""
    from tiergate.store.rollouts import events, load

    if filters.tenant is not None:
        return []
    out = []
    for row in await load(store, filters.route):
        out.append(
            {
                "route": row.route,
                "model": row.model,
                "percent": row.percent,
                "step": row.step,
                "state": row.state,
                "version": row.version,
                "since": datetime.fromtimestamp(row.since_ms / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "events": await events(store, row.route, limit=10),
            }
        )
    return out
