"""Outcome data: per prompt, how well each of two or more models did.

One JSON object per line: ``{"prompt": str, "outcomes": {model: number in [0, 1]}, ...}``
(``id`` and ``domain`` optional and ignored for features). Outcomes may be 0/1 correctness or
graded scores. Every model named on any line must appear on every line, so two columns can be
compared prompt by prompt. Errors name the line, because the reader is fixing that file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


class OutcomeDataError(ValueError):
    """A malformed outcome file or an impossible model choice; the message says where."""


@dataclass(frozen=True)
class OutcomeData:
    """Prompts plus one outcome column per model (same order as ``prompts``)."""

    prompts: tuple[str, ...]
    outcomes: dict[str, NDArray[np.float64]]
    domains: tuple[str | None, ...]

    @property
    def models(self) -> list[str]:
        return sorted(self.outcomes)

    def mean(self, model: str) -> float:
        return float(self.outcomes[model].mean())

    def __len__(self) -> int:
        return len(self.prompts)


@dataclass(frozen=True)
class ModelPair:
    """Which model is the cheap one and which the strong one, and whether it was guessed."""

    weak: str
    strong: str
    inferred: bool


def _parse_line(number: int, line: str) -> tuple[str, dict[str, float], str | None]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise OutcomeDataError(f"line {number}: not valid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise OutcomeDataError(f"line {number}: expected a JSON object")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise OutcomeDataError(f"line {number}: 'prompt' must be a non-empty string")
    raw = obj.get("outcomes")
    if not isinstance(raw, dict) or len(raw) < 2:
        raise OutcomeDataError(
            f"line {number}: 'outcomes' must be an object with at least two models"
        )
    outcomes: dict[str, float] = {}
    for model, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OutcomeDataError(f"line {number}: outcome of {model!r} must be a number")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise OutcomeDataError(f"line {number}: outcome of {model!r} must lie in [0, 1]")
        outcomes[model] = float(value)
    domain = obj.get("domain")
    return prompt, outcomes, domain if isinstance(domain, str) else None


def parse_lines(lines: Iterable[str]) -> OutcomeData:
    """Parse JSONL text lines (blank lines skipped); the first data line fixes the model set."""
    prompts: list[str] = []
    domains: list[str | None] = []
    columns: dict[str, list[float]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        prompt, outcomes, domain = _parse_line(number, line)
        if not columns:
            columns = {model: [] for model in outcomes}
        elif set(outcomes) != set(columns):
            raise OutcomeDataError(
                f"line {number}: models {sorted(outcomes)} differ from the first line's "
                f"{sorted(columns)}"
            )
        for model, value in outcomes.items():
            columns[model].append(value)
        prompts.append(prompt)
        domains.append(domain)
    if not prompts:
        raise OutcomeDataError("no data lines")
    arrays = {m: np.asarray(v, dtype=np.float64) for m, v in columns.items()}
    return OutcomeData(tuple(prompts), arrays, tuple(domains))


def load_outcomes(path: str | Path) -> OutcomeData:
    """Read an outcome JSONL file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_lines(handle)
    except OSError as exc:
        raise OutcomeDataError(f"{path}: cannot read ({exc.strerror})") from exc


def choose_pair(data: OutcomeData, weak: str | None = None, strong: str | None = None) -> ModelPair:
    """Pick the weak and strong model; unnamed ones are the lowest / highest mean outcome."""
    for name in (weak, strong):
        if name is not None and name not in data.outcomes:
            raise OutcomeDataError(f"model {name!r} is not in the data; models: {data.models}")
    ranked: Sequence[str] = sorted(data.models, key=lambda m: (data.mean(m), m))
    chosen_weak = weak if weak is not None else next(m for m in ranked if m != strong)
    chosen_strong = (
        strong if strong is not None else next(m for m in reversed(ranked) if m != chosen_weak)
    )
    if chosen_weak == chosen_strong:
        raise OutcomeDataError("the weak and the strong model must differ")
    return ModelPair(chosen_weak, chosen_strong, inferred=weak is None or strong is None)
