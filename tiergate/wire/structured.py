"""Structured output, both ways: OpenAI's ``response_format`` <-> Anthropic's structured outputs.

The core spelling is OpenAI's ``response_format`` (``ChatRequest.response_format``). Anthropic
asks for the same thing with ``output_config.format`` (``{"type": "json_schema", "schema":
...}``, generally available) or the older beta ``output_format`` of the same shape; both decode
to ``{"type": "json_schema", "json_schema": {"name": ..., "schema": ..., "strict": true}}`` (the
Anthropic form always constrains the answer, which is what OpenAI's ``strict`` means).

OpenAI's ``json_object`` (any JSON object, no schema) has no Anthropic counterpart: an Anthropic
upstream would answer free text, so such a request is refused with a 400 that says what to send
instead, never silently sent without it.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import InvalidRequest

# The name an Anthropic schema gets in OpenAI's shape, which requires one.
SCHEMA_NAME = "output"


def decode_anthropic(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's structured output in core (``response_format``) form, or None."""
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest("output_config: must be an object", param="output_config")
    fmt = (config or {}).get("format")
    where = "output_config.format"
    if fmt is None:
        fmt, where = body.get("output_format"), "output_format"
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise InvalidRequest(f"{where}.type: must be json_schema", param=f"{where}.type")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest(
            f"{where}.schema: required, a JSON Schema object", param=f"{where}.schema"
        )
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
    }


def anthropic_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """``output_config.format`` for an Anthropic upstream; None when the request asks for
    plain text. Raises ``InvalidRequest`` for what the Messages API cannot honour."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "response_format.json_schema.schema: required, a JSON Schema object",
                param="response_format.json_schema.schema",
            )
        return {"type": "json_schema", "schema": schema}
    if kind == "json_object":
        raise InvalidRequest(
            "response_format json_object: the model is served through the Anthropic Messages "
            "API, which has no schema-less JSON mode; send response_format "
            '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}} instead',
            param="response_format.type",
        )
    raise InvalidRequest(
        f"response_format.type: {kind!r} is not supported; use text, json_object or json_schema",
        param="response_format.type",
    )
