"""Request validation the real OpenAI Chat Completions API performs, so a gateway bug the real
API would reject (an Anthropic-only field leaking through, a ``tool`` message without the
assistant ``tool_calls`` it answers, ``stream_options`` without ``stream``) fails here too.

Each check returns ``(message, param)`` for a 400 ``invalid_request_error``, or None. Written
from the API reference, not from tiergate's code.
"""

from __future__ import annotations

from typing import Any

TOP_LEVEL = frozenset(
    {
        "model",
        "messages",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})

Problem = tuple[str, str | None]


def check_chat_request(body: Any) -> Problem | None:
    if not isinstance(body, dict):
        return ("We could not parse the JSON body of your request.", None)
    for key in body:
        if key not in TOP_LEVEL:
            return (f"Unrecognized request argument supplied: {key}", None)
    if not isinstance(body.get("model"), str) or not body["model"]:
        return ("you must provide a model parameter", "model")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            return (f"Invalid '{name}': integer below minimum value.", name)
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        return ("Invalid 'temperature': decimal above maximum value.", "temperature")
    if body.get("stream_options") is not None and not body.get("stream"):
        return (
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    stop = body.get("stop")
    if (
        stop is not None
        and not isinstance(stop, str)
        and not (
            isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop)
        )
    ):
        return ("Invalid 'stop': expected a string or an array of up to 4 strings.", "stop")
    return _check_tools(body) or _check_messages(body.get("messages"))


def _check_tools(body: dict[str, Any]) -> Problem | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return ("Invalid type for 'tools': expected an array.", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            return (f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}]")
        if not isinstance(function.get("name"), str):
            return (
                f"Missing required parameter: 'tools[{i}].function.name'.",
                f"tools[{i}].function.name",
            )
        params = function.get("parameters")
        if params is not None and not isinstance(params, dict):
            return (
                f"Invalid type for 'tools[{i}].function.parameters'.",
                f"tools[{i}].function.parameters",
            )
    return None


def _check_messages(messages: Any) -> Problem | None:
    if not isinstance(messages, list) or not messages:
        return (
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "messages",
        )
    open_calls: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            role = message.get("role") if isinstance(message, dict) else message
            return (
                f"Invalid value: '{role}'. Supported values are: {', '.join(sorted(ROLES))}.",
                f"{where}.role",
            )
        role = message["role"]
        content = message.get("content")
        if role == "tool":
            if message.get("tool_call_id") not in open_calls:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"{where}.role",
                )
        elif open_calls:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not "
                f"have response messages: {', '.join(sorted(open_calls))}",
                f"{where}.role",
            )
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if content is None and not calls:
                return (f"Missing required parameter: '{where}.content'.", f"{where}.content")
            for j, call in enumerate(calls):
                function = call.get("function") if isinstance(call, dict) else None
                if (
                    call.get("type") != "function"
                    or not isinstance(call.get("id"), str)
                    or not isinstance(function, dict)
                    or not isinstance(function.get("arguments"), str)
                ):
                    return (
                        f"Invalid '{where}.tool_calls[{j}]': id, type 'function' and "
                        "function.arguments (a string) are required.",
                        f"{where}.tool_calls[{j}]",
                    )
            open_calls = {call["id"] for call in calls}
        elif role == "tool":
            open_calls.discard(message["tool_call_id"])
        if content is None and role != "assistant":
            return (f"Missing required parameter: '{where}.content'.", f"{where}.content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") not in PART_TYPES:
                    return (
                        f"Invalid value for '{where}.content[{j}].type'.",
                        f"{where}.content[{j}].type",
                    )
                if part["type"] == "image_url" and not isinstance(
                    (part.get("image_url") or {}).get("url"), str
                ):
                    return (
                        f"Missing required parameter: '{where}.content[{j}].image_url.url'.",
                        f"{where}.content[{j}].image_url.url",
                    )
                if role == "tool" and part["type"] != "text":
                    return (
                        f"Invalid value for '{where}.content[{j}].type': a tool message "
                        "takes text parts only.",
                        f"{where}.content[{j}].type",
                    )
                if part["type"] == "file":
                    problem = _check_file(part.get("file"), f"{where}.content[{j}].file")
                    if problem:
                        return problem
        elif content is not None and not isinstance(content, str):
            return (f"Invalid type for '{where}.content'.", f"{where}.content")
    if open_calls:
        return (
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'.",
            "messages",
        )
    return None


def _check_file(file: Any, where: str) -> Problem | None:
    """A ``file`` content part (the PDF input guide): ``file_id``, or ``file_data`` as a base64
    data URL together with its ``filename``."""
    if not isinstance(file, dict) or not (file.get("file_id") or file.get("file_data")):
        return (f"Missing required parameter: '{where}.file_data' or '{where}.file_id'.", where)
    data = file.get("file_data")
    if data is not None:
        if not isinstance(data, str) or not data.startswith("data:") or ";base64," not in data:
            return (f"Invalid '{where}.file_data': expected a base64 data URL.", where)
        if not isinstance(file.get("filename"), str) or not file["filename"]:
            return (f"Missing required parameter: '{where}.filename'.", where)
    return None
