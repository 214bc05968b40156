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
# Fields of a custom tool (the tool reference: strict tool use, fine-grained tool streaming,
# tool use examples, tool search); anything else is "Extra inputs are not permitted".
TOOL_FIELDS = frozenset(
    {
        "type",
        "name",
        "description",
        "input_schema",
        "cache_control",
        "strict",
        "eager_input_streaming",
        "input_examples",
        "defer_loading",
        "allowed_callers",
    }
)
# Models that take ``role: "system"`` inside ``messages`` (mid-conversation system messages:
# Claude Opus 4.8 and the models after it); others answer 400.
SYSTEM_MESSAGE_MODELS = ("claude-opus-4-8", "claude-opus-5", "claude-fable-5")
EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
DOCUMENT_SOURCES = {
    "base64": ("media_type", "data"),
    "url": ("url",),
    "text": ("media_type", "data"),
    "content": ("content",),
    "file": ("file_id",),
}
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
        "tool_reference",
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
    error = error or _check_tools(body) or _check_thinking(body) or _check_output(body)
    return error or _check_messages(body.get("messages"), str(body["model"]))


def _check_output(body: dict[str, Any]) -> str | None:
    """Structured outputs: ``output_config.format`` (or the older beta ``output_format``) is
    ``{"type": "json_schema", "schema": {...}}``; ``output_config.effort`` one of EFFORTS."""
    config = body.get("output_config")
    if config is not None:
        if not isinstance(config, dict) or set(config) - {"format", "effort", "task_budget"}:
            return "output_config: Extra inputs are not permitted"
        if "effort" in config and config["effort"] not in EFFORTS:
            return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
    for where, fmt in (
        ("output_config.format", (config or {}).get("format")),
        ("output_format", body.get("output_format")),
    ):
        if fmt is None:
            continue
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return f"{where}.type: Input should be 'json_schema'"
        if not isinstance(fmt.get("schema"), dict) or set(fmt) - {"type", "schema"}:
            return f"{where}.schema: Field required"
    return None


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
            for key in tool:
                if key not in TOOL_FIELDS:
                    return f"tools.{i}.{key}: Extra inputs are not permitted"
            if "strict" in tool and not isinstance(tool["strict"], bool):
                return f"tools.{i}.strict: Input should be a valid boolean"
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


def _check_messages(messages: Any, model: str = "") -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous_tool_uses: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "user",
            "assistant",
            "system",
        ):
            return f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
        if message["role"] == "system":
            error = _check_system_message(messages, i, model)
            if error:
                return error
            continue
        extra = set(message) - {"role", "content"}
        if extra:
            return f"messages.{i}.{sorted(extra)[0]}: Extra inputs are not permitted"
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


def _check_system_message(messages: list[Any], i: int, model: str) -> str | None:
    """Mid-conversation system messages: placement and content rules of their reference."""
    where = f"messages.{i}"
    message = messages[i]
    if not model.startswith(SYSTEM_MESSAGE_MODELS):
        return f"{where}.role: system messages are not supported by model {model}"
    if i == 0:
        return f"{where}: a system message cannot be the first message; use the system parameter"
    before = messages[i - 1]
    if not isinstance(before, dict) or before.get("role") != "user":
        return f"{where}: a system message must immediately follow a user message"
    after = messages[i + 1] if i + 1 < len(messages) else None
    if after is not None and (not isinstance(after, dict) or after.get("role") != "assistant"):
        return f"{where}: a system message must be last or be followed by an assistant message"
    extra = set(message) - {"role", "content", "output_config"}
    if extra:
        return f"{where}.{sorted(extra)[0]}: Extra inputs are not permitted"
    config = message.get("output_config")
    if config is not None and (
        not isinstance(config, dict)
        or set(config) - {"effort"}
        or config.get("effort", "high") not in EFFORTS
    ):
        return f"{where}.output_config: only effort may be set per message"
    content = message.get("content")
    if isinstance(content, str):
        return None if content else f"{where}.content: text content blocks must be non-empty"
    if not isinstance(content, list):
        return f"{where}.content: Input should be a valid string or list"
    if not content and config is None:
        return f"{where}: a system message needs content or output_config"
    for j, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text" or not block.get("text"):
            return f"{where}.content.{j}: a system message holds non-empty text blocks only"
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
    if kind == "document":
        error = _check_document(block, where)
        if error:
            return error
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
        for k, item in enumerate(inner if isinstance(inner, list) else ()):
            if not isinstance(item, dict) or item.get("type") not in (
                "text",
                "image",
                "document",
                "search_result",
                "tool_reference",
            ):
                return f"{where}.content.{k}.type: Input tag does not match the expected tags"
            if item.get("type") == "text" and not item.get("text"):
                return "messages: text content blocks must be non-empty"
            if item.get("type") == "document":
                error = _check_document(item, f"{where}.content.{k}")
                if error:
                    return error
    if kind == "thinking" and not (
        isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str)
    ):
        return f"{where}: thinking blocks require thinking and signature"
    return None


def _check_document(block: dict[str, Any], where: str) -> str | None:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") not in DOCUMENT_SOURCES:
        return (
            f"{where}.source: Input tag does not match 'base64', 'url', 'text', 'content', 'file'"
        )
    for key in DOCUMENT_SOURCES[source["type"]]:
        if key not in source:
            return f"{where}.source.{source['type']}.{key}: Field required"
    if source["type"] == "base64" and source.get("media_type") != "application/pdf":
        return f"{where}.source.base64.media_type: Input should be 'application/pdf'"
    if source["type"] == "text" and source.get("media_type") != "text/plain":
        return f"{where}.source.text.media_type: Input should be 'text/plain'"
    extra = set(block) - {"type", "source", "title", "context", "citations", "cache_control"}
    if extra:
        return f"{where}.{sorted(extra)[0]}: Extra inputs are not permitted"
    citations = block.get("citations")
    if citations is not None and not (isinstance(citations, dict) and "enabled" in citations):
        return f"{where}.citations: Input should be an object with enabled"
    return None
