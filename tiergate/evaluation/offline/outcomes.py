"""Evaluation results as outcome data, the format ``tiergate router train`` reads.

One line per prompt: ``{"id", "prompt", "outcomes": {model: score}}`` (scores in [0, 1]),
plus ``route`` and the item's own fields. Only items every model was scored on become a line:
a router learns from the difference between models on the same prompt.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from tiergate.evaluation.offline.runner import RunResult
from tiergate.store.outcomes import OutcomeRow

__all__ = ["outcome_lines", "outcome_rows", "rows_to_lines"]


def outcome_lines(result: RunResult, models: list[str], route: str | None) -> list[dict[str, Any]]:
    lines = []
    for scored in result.items:
        if not all(model in scored.scores for model in models):
            continue
        line: dict[str, Any] = {
            "id": scored.item.id,
            "prompt": scored.item.prompt,
            "outcomes": {model: scored.scores[model] for model in models},
        }
        if route is not None:
            line["route"] = route
        for key in ("kind", "domain"):
            if key in scored.item.extra:
                line[key] = scored.item.extra[key]
        lines.append(line)
    return lines


def outcome_rows(
    result: RunResult, models: list[str], *, run_id: str, route: str | None, tenant: str
) -> list[OutcomeRow]:
    now = int(time.time() * 1000)
    rows = []
    for line, scored in zip(
        outcome_lines(result, models, route), _complete(result, models), strict=True
    ):
        for model, score in line["outcomes"].items():
            answer = scored.answers.get(model)
            rows.append(
                OutcomeRow(
                    run_id=run_id,
                    item_id=line["id"],
                    model=model,
                    ts_ms=now,
                    source="eval",
                    route=route,
                    tenant=tenant,
                    prompt=line["prompt"],
                    score=float(score),
                    request_id=answer.request_id if answer else None,
                )
            )
    return rows


def _complete(result: RunResult, models: list[str]) -> list[Any]:
    return [s for s in result.items if all(model in s.scores for model in models)]


def rows_to_lines(rows: list[OutcomeRow]) -> list[dict[str, Any]]:
    """Stored rows back to outcome lines, one per (run, item); a model a run did not ask about
    is simply absent from that line."""
    grouped: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    prompts: dict[tuple[str, str], str] = {}
    for row in rows:
        grouped[(row.run_id, row.item_id)][row.model] = row.score
        prompts[(row.run_id, row.item_id)] = row.prompt
    return [
        {"id": f"{run}/{item}", "prompt": prompts[(run, item)], "outcomes": outcomes}
        for (run, item), outcomes in grouped.items()
    ]
