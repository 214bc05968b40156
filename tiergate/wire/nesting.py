"""How deep a request's JSON may nest: bounded, so that what is accepted can be sent on.

orjson reads up to 1,024 levels but writes at most 254, and a request is written again on its
way upstream (or into a batch): a body nested between the two would be accepted, then fail
as a server error. Real requests nest a few levels (a tool's JSON Schema a dozen or so);
``MAX_DEPTH`` leaves ample room and refuses the rest with a 400.
"""

from __future__ import annotations

from typing import Any

import orjson

from tiergate.errors import InvalidRequest

__all__ = ["MAX_DEPTH", "check_depth", "json_body"]

MAX_DEPTH = 128


def check_depth(value: Any, raw: bytes | str | None = None, where: str | None = None) -> None:
    """Refuse ``value`` (parsed JSON) nested deeper than ``MAX_DEPTH`` with a 400. With its
    ``raw`` text the walk is skipped when the text cannot nest that deep (fewer opening
    brackets than the limit): the usual request costs two byte counts."""
    if raw is not None:
        if isinstance(raw, str):
            if raw.count("{") + raw.count("[") <= MAX_DEPTH:
                return
        elif raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
            return
    if type(value) not in (dict, list):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            at = f"{where}: " if where else ""
            raise InvalidRequest(f"{at}JSON nested more than {MAX_DEPTH} levels deep", param=where)
        for child in node.values() if type(node) is dict else node:
            if type(child) in (dict, list):
                stack.append((child, depth + 1))


def json_body(body: bytes) -> Any:
    """A request body parsed as JSON, or a 400 saying why not (too deep included)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    check_depth(value, body)
    return value
