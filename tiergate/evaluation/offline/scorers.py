"""Scorers that need no model: each turns (answer text, reference) into a score in [0, 1].

``exact`` and ``contains`` compare after normalising case and white space; ``regex`` searches
the answer for the reference (or ``--pattern``); ``json-field`` reads one field of the answer
parsed as JSON (a fenced code block is unwrapped) and compares it with the reference;
``json-schema`` checks the answer against a schema (``--schema``, else the reference). The
``judge`` scorer grades with a model (``judge.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["SCORERS", "Scorer", "make_scorer", "parse_json_answer"]

SCORERS = ("exact", "contains", "regex", "json-field", "json-schema", "judge")

Scorer = Callable[[str, Any], float]

_FENCE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.S)
_MISSING = object()


def _norm(text: Any) -> str:
    return " ".join(str(text).split()).casefold()


def parse_json_answer(text: str) -> Any:
    """The answer as JSON: the whole text, else a fenced block, else its first {...} / [...]."""
    candidates = [text.strip()]
    fenced = _FENCE.search(text)
    if fenced:
        candidates.append(fenced.group(1).strip())
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    return _MISSING


def _field(value: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _need_reference(reference: Any, name: str) -> None:
    if reference is None:
        raise ValueError(f'the {name} scorer needs a "reference" on every line')


def make_scorer(
    name: str,
    *,
    pattern: str | None = None,
    field: str | None = None,
    schema: dict[str, Any] | None = None,
) -> Scorer:
    """The scorer called ``name``; a bad option (a pattern that does not compile, a schema that
    is not one) raises ``ValueError`` here, before any call is paid for."""
    if name == "exact":

        def exact(answer: str, reference: Any) -> float:
            _need_reference(reference, name)
            return float(_norm(answer) == _norm(reference))

        return exact
    if name == "contains":

        def contains(answer: str, reference: Any) -> float:
            _need_reference(reference, name)
            return float(_norm(reference) in _norm(answer))

        return contains
    if name == "regex":
        fixed = re.compile(pattern) if pattern is not None else None

        def regex(answer: str, reference: Any) -> float:
            compiled = fixed
            if compiled is None:
                _need_reference(reference, name)
                compiled = re.compile(str(reference))
            return float(compiled.search(answer) is not None)

        return regex
    if name == "json-field":
        if not field:
            raise ValueError("the json-field scorer needs --field (a dotted path, e.g. label)")

        def json_field(answer: str, reference: Any) -> float:
            _need_reference(reference, name)
            value = _field(parse_json_answer(answer), field)
            if value is _MISSING:
                return 0.0
            if isinstance(reference, str) and not isinstance(value, str):
                return float(_norm(orjson.dumps(value).decode()) == _norm(reference))
            if isinstance(reference, str):
                return float(_norm(value) == _norm(reference))
            return float(value == reference)

        return json_field
    if name == "json-schema":
        import jsonschema

        if schema is not None:
            jsonschema.validators.validator_for(schema).check_schema(schema)

        def json_schema(answer: str, reference: Any) -> float:
            wanted = schema if schema is not None else reference
            if not isinstance(wanted, dict):
                raise ValueError("the json-schema scorer needs --schema or a schema as reference")
            value = parse_json_answer(answer)
            if value is _MISSING:
                return 0.0
            return float(jsonschema.validators.validator_for(wanted)(wanted).is_valid(value))

        return json_schema
    raise ValueError(f"unknown scorer {name!r}; choose from {', '.join(SCORERS)}")
