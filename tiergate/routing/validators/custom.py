"""A validator that calls the user's own Python function.

The function is named ``module:attribute`` in the config and imported at start-up, so a typo
stops the gateway instead of failing every request. It receives ``(request, response)`` and
returns ``bool``, ``(bool, reason)`` or a ``Verdict``; it may be ``async``. An exception inside
it counts as a failing check (the ladder escalates) rather than an error for the caller:
a buggy check should cost money, not answers.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from tiergate.errors import ConfigError
from tiergate.routing.plan import LocalCheck, Verdict
from tiergate.types import ChatRequest, ChatResponse


def load_callable(target: str) -> Callable[..., Any]:
    """``package.module:attr.path`` -> the object; ConfigError naming what is missing."""
    module_name, _, attr_path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    if not callable(obj):
        raise ConfigError(f"{target!r} is not callable")
    return obj  # type: ignore[no-any-return]


class PythonValidator(LocalCheck):
    name = "python"

    def __init__(self, function: Callable[..., Any], label: str) -> None:
        self._function = function
        self._label = label

    async def check(self, request: ChatRequest, response: ChatResponse) -> Verdict:
        try:
            result = self._function(request, response)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return Verdict(False, f"{self._label} raised {type(exc).__name__}")
        return _verdict(result, self._label)


def _verdict(result: Any, label: str) -> Verdict:
    if isinstance(result, Verdict):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        ok, reason = result
        return Verdict(bool(ok), "" if ok else str(reason))
    if isinstance(result, bool):
        return Verdict(result, "" if result else f"{label} returned False")
    return Verdict(False, f"{label} returned {type(result).__name__}, not bool")
