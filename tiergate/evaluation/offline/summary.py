"""From scored items to the figures of the report and the recommendation, as plain JSON.

Quality per model is its mean score with a 95% interval (Wilson when every score is 0 or 1,
else the bootstrap). Pairs are compared on the items both answered: wins, ties and losses,
and the mean paired difference with its bootstrap interval (with a pairwise judge the
difference of an item is +1, 0 or -1). The recommendation is the cheapest model whose paired
difference to the best model has a 95% interval that stays above -delta.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from itertools import combinations
from typing import Any

from tiergate.evaluation.offline.judge import JudgeStats
from tiergate.evaluation.offline.runner import ItemScores, RunResult
from tiergate.evaluation.offline.stats import mean_interval, percentile
from tiergate.intervals import ANY_SHARE, bootstrap_mean, wilson

__all__ = ["RULE", "difference_interval", "paired_differences", "summarise"]

RULE = (
    "the cheapest model (cost per 1,000 requests) whose quality is not worse than the best "
    "model's by more than delta at 95% confidence: the lower end of the 95% interval of the "
    "paired difference (model - best; bootstrap over items) is at least -delta"
)


def _usd(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def paired_differences(items: list[ItemScores], a: str, b: str) -> list[float]:
    """Per item where both have a score: a's score minus b's (pairwise judging: +1 when a was
    preferred, 0 for a tie, -1 when b was)."""
    values = []
    for scored in items:
        if (a, b) in scored.preferences:
            values.append(2 * scored.preferences[(a, b)] - 1)
        elif (b, a) in scored.preferences:
            values.append(1 - 2 * scored.preferences[(b, a)])
        elif a in scored.scores and b in scored.scores:
            values.append(scored.scores[a] - scored.scores[b])
    return values


def difference_interval(diffs: list[float]) -> tuple[float, float]:
    """95% interval of a mean paired difference: the bootstrap, except when every item gave
    the same difference (the bootstrap can then only say [d, d]); there the Wilson bound on
    a share of items that differ, none of n seen, widens it both ways, so 400 ties read as
    "within 0.0095 either way", not "exactly equal"."""
    if diffs and min(diffs) == max(diffs):
        half = (wilson(0, len(diffs)) or ANY_SHARE)[1]
        return (diffs[0] - half, diffs[0] + half)
    return bootstrap_mean(diffs)


def _model_row(items: list[ItemScores], model: str) -> dict[str, Any]:
    scores = [s.scores[model] for s in items if model in s.scores]
    answers = [s.answers[model] for s in items if model in s.answers]
    mean, (low, high), interval = mean_interval(scores)
    priced = [a.cost_usd for a in answers if a.cost_usd is not None]
    cost = sum(priced, Decimal(0)) if priced else None
    unpriced = sum(1 for a in answers if a.ok and a.cost_usd is None)
    latencies = [a.latency_ms for a in answers if a.ok]
    return {
        "model": model,
        "n": len(scores),
        "quality": mean,
        "ci95": [low, high],
        "interval": interval,
        "errors": sum(1 for a in answers if not a.ok),
        "cost_usd": _usd(cost),
        "cost_per_1k_usd": _usd(cost / len(answers) * 1000)
        if cost is not None and answers
        else None,
        "unpriced_answers": unpriced,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "answered_by": dict(Counter(a.answered_by for a in answers if a.answered_by)),
    }


def _pair_row(items: list[ItemScores], a: str, b: str) -> dict[str, Any]:
    diffs = paired_differences(items, a, b)
    n = len(diffs)
    win, tie = sum(d > 0 for d in diffs), sum(d == 0 for d in diffs)
    low, high = difference_interval(diffs)
    return {
        "a": a,
        "b": b,
        "n": n,
        "win": win,
        "tie": tie,
        "loss": n - win - tie,
        "win_rate_ci95": list(wilson(win, n) or ANY_SHARE),
        "difference": sum(diffs) / n if n else None,
        "difference_ci95": [low, high] if n else None,
    }


def _agreement(pairs: list[tuple[float, float]]) -> dict[str, Any] | None:
    """Share of cases where two verdicts fall on the same side of 0.5 (equal, for ties)."""
    if not pairs:
        return None
    same = sum((x > 0.5) == (y > 0.5) and (x == 0.5) == (y == 0.5) for x, y in pairs)
    ci95 = wilson(same, len(pairs)) or ANY_SHARE
    return {"n": len(pairs), "agreement": same / len(pairs), "ci95": list(ci95)}


def _judge(stats: JudgeStats, cheap: str, strong: str | None) -> dict[str, Any]:
    cost = sum(stats.cost_usd.values(), Decimal(0))
    return {
        "cheap": cheap,
        "strong": strong,
        "calls": stats.calls,
        "cost_usd": {model: float(v) for model, v in stats.cost_usd.items()},
        "total_cost_usd": float(cost),
        "verdicts": stats.verdicts,
        "escalated": stats.escalated,
        "escalated_share": stats.escalated / stats.verdicts if stats.verdicts else None,
        "unreadable_replies": stats.unreadable,
        "audited": stats.audited,
        "agreement_on_audit": _agreement(stats.audit_pairs),
        "final_vs_labels": _agreement(stats.final_vs_label),
        "cheap_vs_labels": _agreement(stats.cheap_vs_label),
    }


def _recommend(items: list[ItemScores], rows: list[dict[str, Any]], delta: float) -> dict[str, Any]:
    scored = [row for row in rows if row["n"]]
    if not scored:
        return {"model": None, "rule": RULE, "delta": delta, "reason": "no model has a score"}
    best = max(scored, key=lambda row: row["quality"])
    candidates = []
    for row in scored:
        if row is best:
            candidates.append({"model": row["model"], "difference_ci95": [0.0, 0.0]})
            continue
        diffs = paired_differences(items, row["model"], best["model"])
        if not diffs:
            continue
        low, high = difference_interval(diffs)
        if low >= -delta:
            candidates.append({"model": row["model"], "difference_ci95": [low, high]})
    cost = {row["model"]: row["cost_per_1k_usd"] for row in scored}
    quality = {row["model"]: row["quality"] for row in scored}
    chosen = min(
        candidates,
        key=lambda c: (cost[c["model"]] is None, cost[c["model"]] or 0.0, -quality[c["model"]]),
    )
    model = chosen["model"]
    if model == best["model"]:
        reason = (
            f"{model} has the best quality ({quality[model]:.3f}) and no cheaper model "
            f"is within {delta:g} of it at 95% confidence"
        )
    else:
        low, high = chosen["difference_ci95"]
        reason = (
            f"{model} costs ${cost[model] or 0:.4f} per 1,000 requests against "
            f"${cost[best['model']] or 0:.4f} for the best, {best['model']}; the 95% "
            f"interval of its paired difference to it is [{low:+.3f}, {high:+.3f}], "
            f"above -{delta:g}"
        )
    return {
        "model": model,
        "best": best["model"],
        "delta": delta,
        "rule": RULE,
        "reason": reason,
        "qualifying": candidates,
    }


def summarise(
    result: RunResult, models: list[str], *, delta: float, scorer: str, extra: dict[str, Any]
) -> dict[str, Any]:
    items = result.items
    rows = [_model_row(items, model) for model in models]
    pairs = [_pair_row(items, a, b) for a, b in combinations(models, 2)]
    calls = result.calls
    answer_cost = sum(
        (Decimal(str(r["cost_usd"])) for r in rows if r["cost_usd"] is not None), Decimal(0)
    )
    summary: dict[str, Any] = {
        **extra,
        "scorer": scorer,
        "items": len(items),
        "items_in_set": result.total,
        "complete": result.complete,
        "stopped": result.stopped,
        "models": rows,
        "pairs": pairs,
        "recommendation": _recommend(items, rows, delta),
        "cost_usd": {
            "answers": float(answer_cost),
            "total": float(calls.spent),
            "this_run": float(calls.paid),
        },
        "calls": {"sent": calls.calls, "resumed": calls.resumed, "resent_after_kill": calls.resent},
    }
    judge = result.judge
    if judge is not None:
        strong = judge.strong.model if judge.strong is not None else None
        summary["judge"] = _judge(judge.stats, judge.cheap.model, strong)
    return summary
