"""Judged pairs: a candidate's answer set against the served one by a judge model.

One row per pair (``judgments``), written by the judging task off the request path: judged
shadow (``kind`` ``shadow``: the candidate answered in the shadow) and a guarded rollout's
sample (``rollout``: the candidate served, the incumbent answered off the path). The judge's
calls (and, for a rollout, the incumbent's) are priced into the row: this table is where that
traffic is logged, apart from ``requests`` so spend and mix stay the served traffic's.

``judged`` aggregates them for reports: win/tie/loss rates with Wilson intervals, and the
judged quality (pairwise: wins plus half the ties over the pairs, 0.5 = as good as the served
model; rubric: the candidate's pass rate) and, for rubric, the quality ratio (candidate pass
rate over served pass rate) with bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from decimal import Decimal
from typing import Any

from tiergate.intervals import bootstrap, wilson
from tiergate.store.backend import Store
from tiergate.store.records import PICO, to_pico


@dataclass(slots=True)
class JudgmentRecord:
    id: str
    kind: str  # "shadow" | "rollout"
    ts_ms: int
    tenant: str
    route: str | None
    request_id: str  # the served request
    shadow_id: str | None
    served_model: str
    candidate_model: str
    judge_model: str
    mode: str  # "pairwise" | "rubric"
    verdict: str | None = None  # "win" | "tie" | "loss" for the candidate; None: not judged
    served_pass: bool | None = None
    candidate_pass: bool | None = None
    orders_agree: bool | None = None
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None
    error: str | None = None

    def row(self) -> tuple[Any, ...]:
        values = list(astuple(self))
        values[-2] = to_pico(self.cost_usd)
        return tuple(values)


_COLUMNS = (
    "id",
    "kind",
    "ts_ms",
    "tenant",
    "route",
    "request_id",
    "shadow_id",
    "served_model",
    "candidate_model",
    "judge_model",
    "mode",
    "verdict",
    "served_pass",
    "candidate_pass",
    "orders_agree",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost_pusd",
    "error",
)
INSERT_JUDGMENT = (
    f"INSERT INTO judgments ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)


async def save_judgment(store: Store, record: JudgmentRecord) -> None:
    await store.execute(INSERT_JUDGMENT, record.row())


COUNTS = (
    "count(*)",
    "sum(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END)",
    "sum(CASE WHEN verdict = 'win' THEN 1 ELSE 0 END)",
    "sum(CASE WHEN verdict = 'tie' THEN 1 ELSE 0 END)",
    "sum(CASE WHEN verdict = 'loss' THEN 1 ELSE 0 END)",
    # rubric cells: (served, candidate) passed
    "sum(CASE WHEN served_pass AND candidate_pass THEN 1 ELSE 0 END)",
    "sum(CASE WHEN served_pass AND NOT candidate_pass THEN 1 ELSE 0 END)",
    "sum(CASE WHEN candidate_pass AND NOT served_pass THEN 1 ELSE 0 END)",
    "sum(CASE WHEN NOT served_pass AND NOT candidate_pass THEN 1 ELSE 0 END)",
    "sum(CASE WHEN orders_agree THEN 1 ELSE 0 END)",
    "sum(CASE WHEN orders_agree IS NOT NULL THEN 1 ELSE 0 END)",
    "sum(calls)",
    "sum(cost_pusd)",
)


async def judged(
    store: Store, where: str, params: list[Any], group: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Judged pairs per (kind, route, served model, candidate, judge, mode) and ``group``
    over the rows ``where`` selects (a ``ReportFilter``'s clause over ``judgments``)."""
    keys = ("kind", "route", "served_model", "candidate_model", "judge_model", "mode", *group)
    rows = await store.fetchall(
        f"SELECT {', '.join(keys)}, {', '.join(COUNTS)} FROM judgments WHERE {where} "
        f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}",
        params,
    )
    width = len(keys)
    return [summarise(dict(zip(keys, row[:width], strict=True)), row[width:]) for row in rows]


def summarise(head: dict[str, Any], counts: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """One report row from the counts ``COUNTS`` yields."""
    n, errors, win, tie, loss, both, served_only, cand_only, neither, agree, ordered, calls = (
        int(v or 0) for v in counts[:12]
    )
    cost = Decimal(int(counts[12])) / PICO if counts[12] is not None else None
    judged_n = win + tie + loss
    out: dict[str, Any] = {
        **head,
        "pairs": n,
        "judged": judged_n,
        "judge_errors": errors,
        "judge_calls": calls,
        "judge_cost_usd": float(cost) if cost is not None else None,
    }
    for name, count in (("win", win), ("tie", tie), ("loss", loss)):
        out[f"{name}_rate"] = count / judged_n if judged_n else None
        out[f"{name}_ci"] = wilson(count, judged_n)
    # Pairs where the candidate did at least as well as the served model.
    out["not_worse_rate"] = (win + tie) / judged_n if judged_n else None
    out["not_worse_ci"] = wilson(win + tie, judged_n)
    out["orders_agree_rate"] = agree / ordered if ordered else None
    graded = both + served_only + cand_only + neither
    if head.get("mode") == "rubric" and graded:
        out["served_pass_rate"] = (both + served_only) / graded
        out["candidate_pass_rate"] = (both + cand_only) / graded
        out["quality"] = out["candidate_pass_rate"]
        out["quality_ci"] = wilson(both + cand_only, graded)
        served_pass = both + served_only
        out["quality_ratio"] = (both + cand_only) / served_pass if served_pass else None
        out["quality_ratio_ci"] = bootstrap(
            (both, served_only, cand_only, neither), lambda b, s, c, _n: (b + c) / (b + s)
        )
    else:
        out["quality"] = (win + tie / 2) / judged_n if judged_n else None
        out["quality_ci"] = (
            bootstrap((win, tie, loss), lambda w, t, lo: (w + t / 2) / (w + t + lo))
            if judged_n
            else None
        )
        out["quality_ratio"] = out["quality_ratio_ci"] = None
    return out
