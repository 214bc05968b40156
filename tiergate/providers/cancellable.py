"""Awaiting pyreqwest's coroutines so that a cancellation reaches them from compiled code.

pyreqwest's calls return PyO3 coroutines whose ``throw`` takes the exception alone. A task is
cancelled by throwing ``CancelledError`` down its chain of awaits; CPython passes it on in the
form it got, but a coroutine compiled by mypyc (the optional compiled build) passes it on as
``throw(type, value, traceback)``, and the PyO3 coroutine then raised ``TypeError`` instead of
being cancelled: a stream whose first event timed out answered 500, not 504.

``cancellable(call)`` wraps one such coroutine in an awaitable whose ``throw`` takes either
form and hands the exception on alone. This module stays interpreted (it is not in
``[tool.tiergate] compiled-modules``): mypyc would compile the class into a native one, and
the point is a plain Python ``throw``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["cancellable"]


class _Cancellable(Generic[T]):
    __slots__ = ("_call",)

    def __init__(self, call: Coroutine[Any, Any, T]) -> None:
        self._call = call

    def __await__(self) -> Generator[Any, Any, T]:
        return self  # type: ignore[return-value]  # the iterator protocol, by hand

    def __iter__(self) -> _Cancellable[T]:
        return self

    def __next__(self) -> Any:
        return self._call.send(None)

    def send(self, value: Any) -> Any:
        return self._call.send(value)

    def throw(
        self,
        kind: type[BaseException] | BaseException,
        value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> Any:
        if value is None:
            value = kind() if isinstance(kind, type) else kind
        return self._call.throw(value)

    def close(self) -> None:
        self._call.close()


def cancellable(call: Coroutine[Any, Any, T]) -> Awaitable[T]:
    """``call``, awaitable and cancellable from compiled and interpreted code alike."""
    return _Cancellable(call)
