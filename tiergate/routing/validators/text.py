"""Validators that read only the answer's text: JSON, JSON Schema, regex, labels, length.

Each is built once at start-up (patterns compiled, schemas checked) so ``check`` is cheap; each
verdict's reason is a few ASCII words, because it lands in the attempt record.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from tiergate.routing.plan import LocalCheck, Verdict
from tiergate.types import ChatRequest, ChatResponse

_OK = Verdict(True)


def _parse(text: str) -> tuple[Any, str | None]:
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON ({str(exc).split(':')[0]})"


class JsonValidator(LocalCheck):
    """The answer's text is one JSON value (surrounding whitespace allowed, no code fences:
    the caller will parse what it gets)."""

    name = "json"

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        _, problem = _parse(response.text().strip())
        return _OK if problem is None else Verdict(False, problem)


class JsonSchemaValidator(LocalCheck):
    """The answer is JSON and valid against a JSON Schema (checked at start-up)."""

    name = "json_schema"

    def __init__(self, schema: dict[str, Any]) -> None:
        import jsonschema  # only configs that use it pay for the import

        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)  # raises jsonschema.SchemaError for a bad schema
        self._validator = cls(schema)

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        value, problem = _parse(response.text().strip())
        if problem is not None:
            return Verdict(False, problem)
        error = next(iter(self._validator.iter_errors(value)), None)
        if error is None:
            return _OK
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return Verdict(False, f"schema: {where}: {error.message[:120]}")


class RegexValidator(LocalCheck):
    name = "regex"

    def __init__(self, pattern: str, *, full: bool = False, ignore_case: bool = False) -> None:
        self._pattern = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        self._full = full

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        text = response.text()
        found = self._pattern.fullmatch(text.strip()) if self._full else self._pattern.search(text)
        if found:
            return _OK
        return Verdict(False, f"does not match /{self._pattern.pattern[:60]}/")


class OneOfValidator(LocalCheck):
    """The whole answer is one of the labels (whitespace and a trailing period ignored)."""

    name = "one_of"

    def __init__(self, labels: tuple[str, ...], *, case_sensitive: bool = False) -> None:
        self._case_sensitive = case_sensitive
        self._labels = frozenset(self._norm(label) for label in labels)

    def _norm(self, text: str) -> str:
        text = text.strip().rstrip(".").strip()
        return text if self._case_sensitive else text.lower()

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        answer = self._norm(response.text())
        if answer in self._labels:
            return _OK
        shown = answer[:40] + ("..." if len(answer) > 40 else "")
        return Verdict(False, f"{shown!r} is not one of the labels")


class MaxLengthValidator(LocalCheck):
    name = "max_length"

    def __init__(self, chars: int) -> None:
        self._chars = chars

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        length = len(response.text())
        if length <= self._chars:
            return _OK
        return Verdict(False, f"{length} chars over the limit of {self._chars}")
