"""Outcome data: per prompt, how well each of two or more models did.

One JSON object per line: ``{"prompt": str, "outcomes": {model: number}, ...}``; ``id`` is
optional and unused; ``domain`` (a topic label) is optional and a training-only target: the
domain prior (``_domain_prior``) learns from it what the prompt's topic says about each model,
while decisions still see the prompt alone. ``responses: {model: str}`` (each model's answer)
is optional and lets a validator learn from what the cheap model said. Outcomes may be 0/1
correctness or graded scores on any numeric scale: ``scale=(lo, hi)`` maps them to [0, 1];
without it, data inside [0, 1] is taken as is and anything else is scaled by the data's own
minimum and maximum (``OutcomeData.scale`` says which, so the caller can state it). Every model
named on any line must appear on every line, so columns compare prompt by prompt. Errors name
the line, because the reader is fixing that file.
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
class Scale:
    """How raw outcomes were mapped to [0, 1]: ``(raw - low) / (high - low)``."""

    low: float
    high: float
    inferred: bool

    def describe(self) -> str:
        how = "inferred from the data's range" if self.inferred else "given"
        return f"outcome scale [{self.low:g}, {self.high:g}] ({how})"


@dataclass(frozen=True)
class OutcomeData:
    """Prompts plus one outcome column per model (same order as ``prompts``), in [0, 1]."""

    prompts: tuple[str, ...]
    outcomes: dict[str, NDArray[np.float64]]
    domains: tuple[str | None, ...]
    responses: dict[str, tuple[str, ...]] | None = None
    scale: Scale = Scale(0.0, 1.0, inferred=False)

    @property
    def models(self) -> list[str]:
        return sorted(self.outcomes)

    def mean(self, model: str) -> float:
        return float(self.outcomes[model].mean())

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, rows: Sequence[int] | NDArray[np.int64]) -> OutcomeData:
        """The rows ``rows`` (for folds and slices), responses and scale kept."""
        idx = np.asarray(rows, dtype=np.int64)
        pick = [int(i) for i in idx]
        return OutcomeData(
            tuple(self.prompts[i] for i in pick),
            {m: v[idx] for m, v in self.outcomes.items()},
            tuple(self.domains[i] for i in pick),
            None
            if self.responses is None
            else {m: tuple(r[i] for i in pick) for m, r in self.responses.items()},
            self.scale,
        )


@dataclass(frozen=True)
class ModelPair:
    """Which model is the cheap one and which the strong one, and whether it was guessed."""

    weak: str
    strong: str
    inferred: bool


_Line = tuple[str, dict[str, float], str | None, dict[str, str] | None]


def _parse_line(number: int, line: str) -> _Line:
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
        if not math.isfinite(value):
            raise OutcomeDataError(f"line {number}: outcome of {model!r} must be finite")
        outcomes[model] = float(value)
    answers = obj.get("responses")
    responses: dict[str, str] | None = None
    if answers is not None:
        if not isinstance(answers, dict) or not all(isinstance(v, str) for v in answers.values()):
            raise OutcomeDataError(f"line {number}: 'responses' must map model names to text")
        responses = answers
    domain = obj.get("domain")
    return prompt, outcomes, domain if isinstance(domain, str) else None, responses


def _scale_columns(
    columns: dict[str, list[float]], scale: tuple[float, float] | None, numbers: list[int]
) -> tuple[dict[str, NDArray[np.float64]], Scale]:
    arrays = {m: np.asarray(v, dtype=np.float64) for m, v in columns.items()}
    if scale is None:
        low = min(float(a.min()) for a in arrays.values())
        high = max(float(a.max()) for a in arrays.values())
        if low >= 0.0 and high <= 1.0:
            return arrays, Scale(0.0, 1.0, inferred=False)
        if high == low:
            raise OutcomeDataError(
                f"every outcome is {low:g}: no scale can be inferred; give --scale MIN,MAX"
            )
        chosen = Scale(low, high, inferred=True)
    else:
        low, high = scale
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise OutcomeDataError(f"scale [{low:g}, {high:g}]: MAX must be above MIN")
        for model, values in arrays.items():
            outside = np.flatnonzero((values < low) | (values > high))
            if outside.size:
                raise OutcomeDataError(
                    f"line {numbers[int(outside[0])]}: outcome of {model!r} "
                    f"({values[outside[0]]:g}) lies outside the scale [{low:g}, {high:g}]"
                )
        chosen = Scale(low, high, inferred=False)
    span = chosen.high - chosen.low
    return {m: (a - chosen.low) / span for m, a in arrays.items()}, chosen


def parse_lines(lines: Iterable[str], scale: tuple[float, float] | None = None) -> OutcomeData:
    """Parse JSONL text lines (blank lines skipped); the first data line fixes the model set.

    ``responses`` are kept for the models whose answer is on every line (a validator needs
    the cheap model's answer for each prompt it learns from).
    """
    prompts: list[str] = []
    domains: list[str | None] = []
    numbers: list[int] = []
    columns: dict[str, list[float]] = {}
    answers: dict[str, list[str]] = {}
    complete: set[str] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        prompt, outcomes, domain, responses = _parse_line(number, line)
        if not columns:
            columns = {model: [] for model in outcomes}
        elif set(outcomes) != set(columns):
            raise OutcomeDataError(
                f"line {number}: models {sorted(outcomes)} differ from the first line's "
                f"{sorted(columns)}"
            )
        for model, value in outcomes.items():
            columns[model].append(value)
        present = set(responses or ())
        complete = present if complete is None else complete & present
        for model in complete:
            answers.setdefault(model, []).append((responses or {})[model])
        prompts.append(prompt)
        domains.append(domain)
        numbers.append(number)
    if not prompts:
        raise OutcomeDataError("no data lines")
    arrays, chosen = _scale_columns(columns, scale, numbers)
    kept = {m: tuple(answers[m]) for m in sorted(complete or ()) if len(answers[m]) == len(prompts)}
    return OutcomeData(tuple(prompts), arrays, tuple(domains), kept or None, chosen)


def parse_scale(text: str) -> tuple[float, float]:
    """``"1,10"`` -> (1.0, 10.0), for ``--scale``."""
    low, sep, high = text.partition(",")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise OutcomeDataError(f"scale {text!r}: expected MIN,MAX such as 1,10") from None


def load_outcomes(path: str | Path, scale: tuple[float, float] | None = None) -> OutcomeData:
    """Read an outcome JSONL file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_lines(handle, scale)
    except OSError as exc:
        raise OutcomeDataError(f"{path}: cannot read ({exc.strerror})") from exc


def choose_pair(data: OutcomeData, weak: str | None = None, strong: str | None = None) -> ModelPair:
    """Pick the weak and strong model; unnamed ones are the lowest / highest mean outcome
    (a tie in means goes by name, so the choice is stable)."""
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
