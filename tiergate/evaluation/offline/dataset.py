"""An evaluation set: one JSON object a line, ``{"id", "prompt" or "messages", "reference"?}``.

Other fields are kept (``label``, a human grade for checking the judge; ``kind``, ``route``...).
Errors name the line, so a set of thousands of lines is fixed in one pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["EvalDataError", "EvalItem", "fingerprint", "load_items"]


class EvalDataError(ValueError):
    """The evaluation set cannot be read; the message names the line."""


@dataclass(frozen=True, slots=True)
class EvalItem:
    id: str
    messages: list[dict[str, Any]]
    reference: Any = None
    label: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The prompt as text: the user messages' text (what a router featurises)."""
        parts = []
        for message in self.messages:
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts += [p.get("text", "") for p in content if isinstance(p, dict)]
        return "\n".join(parts)


def _item(number: int, line: str) -> EvalItem:
    where = f"line {number}"
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EvalDataError(f"{where}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise EvalDataError(f"{where}: expected a JSON object")
    item_id = raw.pop("id", None)
    if not isinstance(item_id, str | int) or item_id == "":
        raise EvalDataError(f'{where}: needs an "id" (string or number)')
    prompt, messages = raw.pop("prompt", None), raw.pop("messages", None)
    if (prompt is None) == (messages is None):
        raise EvalDataError(f'{where}: give exactly one of "prompt" or "messages"')
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt:
            raise EvalDataError(f'{where}: "prompt" must be a non-empty string')
        messages = [{"role": "user", "content": prompt}]
    elif (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and "role" in m for m in messages)
    ):
        raise EvalDataError(f'{where}: "messages" must be a list of {{"role", "content"}}')
    label = raw.pop("label", None)
    if isinstance(label, bool):
        label = float(label)
    elif label is not None and not isinstance(label, int | float):
        raise EvalDataError(f'{where}: "label" must be a number (0/1 or a grade in [0, 1])')
    return EvalItem(
        id=str(item_id),
        messages=messages,
        reference=raw.pop("reference", None),
        label=None if label is None else float(label),
        extra=raw,
    )


def load_items(path: str | Path) -> list[EvalItem]:
    items: list[EvalItem] = []
    seen: set[str] = set()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        item = _item(number, line)
        if item.id in seen:
            raise EvalDataError(f"line {number}: id {item.id!r} appears twice")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise EvalDataError(f"{path} holds no items")
    return items


def fingerprint(items: list[EvalItem]) -> str:
    """Identifies the set's content (ids, messages, references), for resuming the right run."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(orjson.dumps([item.id, item.messages, item.reference]))
    return digest.hexdigest()[:16]
