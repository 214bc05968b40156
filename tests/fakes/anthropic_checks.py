"""Request validation the real Anthropic Messages API performs, so a gateway bug that the real
API would reject (a missing ``max_tokens``, an OpenAI-only parameter leaking through, a
tool_result without its tool_use) fails here too instead of passing silently.

Each check returns an error message (the fake sends it as a 400 ``invalid_request_error``) or
None. Written from the API reference, not from tiergate's code.
"""

from __future__ import annotations

from typing import Any

TOP_LEVEL = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
        "context_management",
        "output_config",
        "output_format",
        "inference_geo",
    }
)
BLOCK_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
        "search_result",
        "container_upload",
    }
)


def check_messages_request(body: Any, *, count_tokens: bool = False) -> str | None:
    if not isinstance(body, dict):
        return "The request body is not valid JSON."
    allowed = TOP_LEVEL - {"max_tokens", "stream"} if count_tokens else TOP_LEVEL
    for key in body:
        if key not in allowed:
            return f"{key}: Extra inputs are not permitted"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not count_tokens:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            return "max_tokens: Field required"
        if max_tokens < 1:
            return "max_tokens: Input should be greater than or equal to 1"
    error = _check_sampling(body) or _check_system(body.get("system"))
    error = error or _check_tools(body) or _check_thinking(body)
    return error or _check_messages(body.get("messages"))


def _check_sampling(body: dict[str, Any]) -> str | None:
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 1
    ):
        return "temperature: Input should be less than or equal to 1"
    top_p = body.get("top_p")
    if top_p is not None and (not isinstance(top_p, int | float) or not 0 <= top_p <= 1):
        return "top_p: Input should be less than or equal to 1"
    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
    ):
        return "stop_sequences: Input should be a valid list of strings"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Input should be a valid boolean"
    if "metadata" in body and not isinstance(body["metadata"], dict):
        return "metadata: Input should be a valid dictionary"
    return None


def _check_system(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list):
        return "system: Input should be a valid string or list of text blocks"
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            return f"system.{i}.type: Input should be 'text'"
        if not isinstance(block.get("text"), str):
            return f"system.{i}.text: Field required"
        if not block["text"]:
            return "system: text content blocks must be non-empty"
    return None


def _check_tools(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            return "tools: Input should be a valid list"
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                return f"tools.{i}.name: Field required"
            names.add(tool["name"])
            if "type" in tool and tool["type"] not in (None, "custom"):
                continue  # server tools (web_search_...) have no input_schema
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{i}.input_schema: Input should be a JSON schema of type object"
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in (
            "auto",
            "any",
            "tool",
            "none",
        ):
            return "tool_choice: Input tag does not match any of 'auto', 'any', 'tool', 'none'"
        if choice["type"] == "tool" and choice.get("name") not in names:
            return "tool_choice.name: Tool not found in tools"
    return None


def _check_thinking(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict) or thinking.get("type") not in (
        "enabled",
        "disabled",
        "adaptive",
    ):
        return "thinking.type: Input tag does not match 'enabled', 'disabled', 'adaptive'"
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if isinstance(body.get("max_tokens"), int) and budget >= body["max_tokens"]:
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
    return None


def _check_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous_tool_uses: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if isinstance(content, str):
            previous_tool_uses = set()
            continue
        if not isinstance(content, list):
            return f"messages.{i}.content: Input should be a valid string or list"
        tool_uses: set[str] = set()
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            error = _check_block(block, where, message["role"], previous_tool_uses)
            if error:
                return error
            if block["type"] == "tool_use":
                tool_uses.add(block["id"])
        previous_tool_uses = tool_uses
    return None


def _check_block(block: Any, where: str, role: str, tool_uses: set[str]) -> str | None:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        kind = block.get("type") if isinstance(block, dict) else type(block).__name__
        return f"{where}.type: Input tag '{kind}' does not match any of the expected tags"
    kind = block["type"]
    if kind == "text" and not isinstance(block.get("text"), str):
        return f"{where}.text: Field required"
    if kind == "text" and not block["text"]:
        return "messages: text content blocks must be non-empty"
    if kind == "image":
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "file"):
            return f"{where}.source: Input tag does not match 'base64', 'url', 'file'"
        if source["type"] == "base64" and not (
            isinstance(source.get("data"), str) and isinstance(source.get("media_type"), str)
        ):
            return f"{where}.source.base64: media_type and data are required"
        if source["type"] == "url" and not isinstance(source.get("url"), str):
            return f"{where}.source.url.url: Field required"
    if kind == "tool_use":
        if role != "assistant":
            return f"{where}: tool_use blocks may only appear in assistant messages"
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            return f"{where}: tool_use requires id and name"
        if not isinstance(block.get("input"), dict):
            return f"{where}.input: Input should be a valid dictionary"
    if kind == "tool_result":
        if role != "user":
            return f"{where}: tool_result blocks may only appear in user messages"
        if block.get("tool_use_id") not in tool_uses:
            return (
                f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        inner = block.get("content")
        if inner is not None and not isinstance(inner, str | list):
            return f"{where}.content: Input should be a valid string or list"
        for item in inner if isinstance(inner, list) else ():
            if isinstance(item, dict) and item.get("type") == "text" and not item.get("text"):
                return "messages: text content blocks must be non-empty"
    if kind == "thinking" and not (
        isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str)
    ):
        return f"{where}: thinking blocks require thinking and signature"
    return None
