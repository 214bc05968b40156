"""tiergate's own OpenAPI document (served at ``/openapi.json``).

It describes the request bodies loosely on purpose: the gateway must answer *any* body with a
4xx in the caller's format rather than a 500, and schema-driven fuzzers (schemathesis) use this
document to generate both valid and malformed requests against it.
"""

from __future__ import annotations

from typing import Any

_TEXT_OR_PARTS: dict[str, Any] = {
    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]
}

_OPENAI_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": _TEXT_OR_PARTS,
        "tool_calls": {"type": "array", "items": {"type": "object"}},
        "tool_call_id": {"type": "string"},
    },
}

_ANTHROPIC_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"type": "string", "enum": ["user", "assistant"]},
        "content": _TEXT_OR_PARTS,
    },
}

_ERROR: dict[str, Any] = {"description": "error in the caller's wire format"}


def _post(body: dict[str, Any], summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "200": {"description": "completion (JSON, or SSE when stream is true)"},
                "400": _ERROR,
                "401": _ERROR,
                "403": _ERROR,
                "404": _ERROR,
                "413": _ERROR,
                "429": _ERROR,
                "502": _ERROR,
                "503": _ERROR,
                "529": _ERROR,
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    chat = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "items": _OPENAI_MESSAGE},
            "max_tokens": {"type": "integer"},
            "temperature": {"type": "number"},
            "stream": {"type": "boolean"},
            "tools": {"type": "array", "items": {"type": "object"}},
        },
    }
    messages = {
        "type": "object",
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": {"type": "string"},
            "max_tokens": {"type": "integer"},
            "messages": {"type": "array", "items": _ANTHROPIC_MESSAGE},
            "system": _TEXT_OR_PARTS,
            "stream": {"type": "boolean"},
            "tools": {"type": "array", "items": {"type": "object"}},
        },
    }
    responses = {
        "type": "object",
        "required": ["model"],
        "properties": {
            "model": {"type": "string"},
            "input": _TEXT_OR_PARTS,
            "instructions": {"type": "string"},
            "max_output_tokens": {"type": "integer"},
            "temperature": {"type": "number"},
            "stream": {"type": "boolean"},
            "store": {"type": "boolean"},
            "previous_response_id": {"type": "string"},
            "tools": {"type": "array", "items": {"type": "object"}},
            "text": {"type": "object"},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "tiergate", "version": "0.1.0"},
        "paths": {
            "/v1/chat/completions": _post(chat, "OpenAI Chat Completions"),
            "/v1/messages": _post(messages, "Anthropic Messages"),
            "/v1/messages/count_tokens": _post(messages, "Anthropic token count (estimate)"),
            "/v1/responses": _post(responses, "OpenAI Responses"),
        },
    }
